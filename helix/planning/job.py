"""One job of the placement rules: place one model on one cluster with one method, write its files.

What scripts/placement.py calls inside the rule runner. It lives in ``helix.planning`` because a
serving-aware placement re-ranks its best layouts by short simulations (``attach_reranker``), and
only this package may import both placement and the simulator.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from helix.artifact.source import ArtifactSource
from helix.cluster import Cluster
from helix.models import load_hf_config
from helix.placement.api import make_problem, run_placement
from helix.placement.base import PlacementResult
from helix.placement.settings import PlacementPreset
from helix.planning.rerank import attach_reranker
from helix.profiles.entry import model_profiles
from helix.profiles.store import ProfileStore


def placement_job(
    *,
    cluster_key: str,
    model_key: str,
    method: str,
    cluster_yaml: str,
    model: Mapping,
    preset: Mapping,
    artifact: str | None,
    gpus: dict,
    profiles_root: str,
    lengths: str,
    out_dir: str | Path,
    say: Callable[[str], None],
    arrivals: str | list[str] | None = None,
    cores: int | None = None,
) -> PlacementResult:
    """Place and write layout.yaml, flow.json, meta.json (and the helix family's solver files).

    A signal during the solve fails the job (no output, so Snakemake never caches it); the
    incumbent waits in ``.incumbent/`` for the rerun (helix.placement.interrupt). ``cores``: the
    cores the rule got, at most the worker processes of a serving-aware placement (its layout is
    the same with any number, helix/parallel.py).
    """
    settings = PlacementPreset.model_validate(preset)
    if cores is not None and settings.objective == "served" and settings.threads > cores:
        settings = settings.model_copy(update={"threads": max(1, cores)})
    cluster = Cluster.load(cluster_yaml)
    source = ArtifactSource.at(artifact)  # the root, whichever way it came
    spec = load_hf_config(
        source.path(model["config_json"]),
        model_key,
        param_bytes_per_layer_override=model.get("param_bytes_per_layer"),
    )
    profiles = model_profiles(spec, gpus, ProfileStore(profiles_root), source="config gpus")
    problem = make_problem(
        cluster, spec, model_key, settings, profiles, source.root, cluster_key, work_dir=Path(out_dir)
    )
    # served objective: the best candidates are re-ranked by short simulations
    # (and online at the preset's rerank_online_tps, from ``arrivals``, the arrival trace)
    if isinstance(arrivals, list):
        arrivals = arrivals[0] if arrivals else None
    attach_reranker(problem, lengths, gpus, log=say, arrivals_path=arrivals)
    t0 = time.monotonic()
    result = run_placement(problem, method, out_dir, on_interrupt="fail")
    cpu = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    say(
        f"{cluster_key}/{model_key}/{method}: max_flow {result.objective:.2f} tok/s, "
        f"bound {result.upper_bound}, {time.monotonic() - t0:.1f} s wall, CPU s "
        f"{cpu[0].ru_utime + cpu[0].ru_stime:.1f} in this process and "
        f"{cpu[1].ru_utime + cpu[1].ru_stime:.1f} in its workers"
    )
    for row in result.trace:
        say(f"  {row.seconds:8.2f}s {row.objective:10.2f} {row.source}")
    return result
