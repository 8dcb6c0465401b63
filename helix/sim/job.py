"""One job of the simulate rule: simulate a configured run, or aggregate its sub-cluster parts.

What scripts/simulate.py calls inside the rule runner; the inputs are the rule's (traces, layout
and cluster YAML of our own methods, part runs of an aggregate), the outputs the five run files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from helix.artifact.source import ArtifactSource
from helix.placement.names import is_paper, reads_artifact_graph
from helix.profiles.paths import PROFILES_ROOT
from helix.profiles.store import ProfileStore
from helix.sim.experiments import run_dir
from helix.sim.outputs import write_aggregate, write_run
from helix.sim.pipeline import run_entry

OUTPUTS = ("metrics", "requests", "congestion", "iterations", "meta")


def model_json(model: Mapping, artifact: str | Path | None) -> str | Path:
    """A model's config.json: ``artifact:`` paths are relative to the artifact root."""
    path = model["config_json"]
    return ArtifactSource.at(artifact).path(path) if artifact else Path(path)


def simulate_job(
    entry: dict,
    outputs: Mapping[str, str],
    *,
    traces: list[str],
    layout: list[str],
    model: Mapping,
    artifact: str | Path | None,
    gpus: dict,
    progress: bool = True,
) -> dict:
    """Write a run's files (``outputs`` maps OUTPUTS to paths) and return its metrics."""
    paths = {k: outputs[k] for k in OUTPUTS}
    if entry["parts"]:
        return write_aggregate(paths, [run_dir(k) for k in entry["parts"]], entry)
    own_path = not reads_artifact_graph(
        entry["method"]
    )  # layout files: [layout.yaml or solution file, cluster YAML]
    out = run_entry(
        entry,
        model_json=model_json(model, artifact),
        param_bytes_per_layer=model.get("param_bytes_per_layer"),
        lengths=traces[0],
        arrivals=traces[1],
        profiles=ProfileStore(PROFILES_ROOT),
        artifact=artifact,
        layout=layout[0] if own_path and not is_paper(entry["method"]) else None,
        cluster=layout[-1] if own_path else None,
        gpus=gpus,
        progress=progress,
    )
    return write_run(paths, out, entry, {"layout": ",".join(map(str, layout))})
