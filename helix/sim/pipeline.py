"""From a simulation-table entry and its input files to a finished run (used by the rule and the CLI).

``paper-<method>`` runs read the artifact's layout and placement graph directly
(:mod:`helix.sim.paper`); our own methods read ``results/placements/.../layout.yaml`` and the
cluster YAML and derive the placement graph (:mod:`helix.sim.graph`), as do ``paper-<method>@graph``
runs from the artifact's solution file (helix.placement.names: one path for paper vs ours).
"""

from __future__ import annotations

from pathlib import Path

from helix.artifact.simulator_cluster import read_simulator_cluster
from helix.artifact.sol_ini import read_sol_ini
from helix.artifact.traces import load_arrivals, load_lengths
from helix.cluster import Cluster
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.models import load_hf_config
from helix.placement.names import base_method, is_paper, reads_artifact_graph
from helix.profiles.entry import model_profiles
from helix.profiles.store import ProfileStore
from helix.sim.graph import graph_from_layout
from helix.sim.paper import paper_files
from helix.sim.run import SimOutput, simulate
from helix.sim.settings import WorkloadSpec


def paper_ranges(sol_path: str | Path, num_layers: int) -> dict[str, tuple[int, int] | None]:
    """Layout of a ``*_sol.ini`` keyed by the placement graph's node names (compute_node_{i+2})."""
    lay = read_sol_ini(sol_path, num_layers)
    return {f"compute_node_{int(name[1:]) + 2}": rng for name, rng in lay.ranges.items()}


def load_model(model: str, config_json: str | Path, param_bytes_per_layer: float | None):
    return load_hf_config(config_json, model, param_bytes_per_layer_override=param_bytes_per_layer)


def paper_inputs(artifact: str | Path, entry: dict) -> tuple[Path, Path]:
    cluster = entry["parent"] or entry["cluster"]
    return paper_files(artifact, cluster, entry["model"], entry["method"], entry.get("part"))


def run_entry(
    entry: dict,
    *,
    model_json: str | Path,
    param_bytes_per_layer: float | None,
    lengths: str | Path,
    arrivals: str | Path,
    profiles: ProfileStore,
    artifact: str | Path | None = None,
    layout: str | Path | None = None,
    cluster: str | Path | None = None,
    gpus: dict | None = None,
    progress: bool = False,
) -> SimOutput:
    """One run; ``gpus`` are the config's entries of the cluster's GPU types (datasheet, memory, NICs)."""
    if entry.get("workload") is None:
        raise HelixInputError(
            "simulation", entry.get("cluster"), "this run aggregates parts; simulate its parts"
        )
    wl = WorkloadSpec.model_validate(entry["workload"])
    model = load_model(entry["model"], model_json, param_bytes_per_layer)
    mp = model_profiles(model, gpus, profiles)
    method = entry["method"]
    if is_paper(method) and artifact is None:
        raise HelixInputError("simulation", "artifact", "paper layouts need the artifact directory")
    if reads_artifact_graph(method):
        sol, graph = paper_inputs(artifact, entry)
        sc = read_simulator_cluster(graph)
        ranges = paper_ranges(sol, model.num_layers)
        source = str(graph)
    else:
        if cluster is None or (layout is None and not is_paper(method)):
            raise HelixInputError(
                "simulation", "layout", "our own-layout path needs layout.yaml and the cluster YAML"
            )
        cl = Cluster.load(cluster)
        if is_paper(method):  # the authors' layout (its solution file) through our own-layout path
            layout, _ = paper_inputs(artifact, entry)
            lay = read_sol_ini(layout, model.num_layers, cl)
        else:
            lay = Layout.load(layout, cl)
        if lay.num_layers != model.num_layers:
            raise HelixInputError(
                layout,
                "num_layers",
                f"layout is for {lay.num_layers} layers, {entry['model']} has {model.num_layers}",
                lay.num_layers,
            )
        sc = graph_from_layout(
            cl, lay, mp, gpus or {}, partial=base_method(method) == "petals", source=str(layout)
        )
        ranges = dict(lay.used())
        source = str(layout)
    inp, out = load_lengths(lengths)
    counts = load_arrivals(arrivals).tolist() if wl.mode == "online" else None
    result = simulate(
        model,
        sc,
        ranges,
        mp,
        entry["scheduler"],
        wl,
        (inp.tolist(), out.tolist()),
        counts,
        progress=progress,
        source=source,
    )
    result.provenance = mp.provenance(set(result.prepared.gpus.values()))
    return result
