"""Where the authors' layouts live in the artifact: (cluster, model, method) -> (solution, graph) files.

docs/design/simulator.md s7 lists which files each reference figure simulated. Methods with per-type
sub-cluster runs (separate, sp_plus, LLaMA-1 30B helix on single24/geo24) have one entry per part.
Two extra methods cover layouts that are not the main figures' ones: ``helix-sched`` (the older ILP
layout of the scheduler comparison, s7 "6.7") and ``helix-noprune`` (the ablation's MILP without
pruning). Methods here are the authors' names (``helix``, not ``paper-helix``): the simulator
(helix.sim.paper) and the placement method ``paper-<method>`` both look layouts up here, so
neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from helix.errors import HelixInputError

SECTION = {"single24": "single_cluster", "geo24": "distributed_clusters", "hetero42": "high_heterogeneity"}
MODEL_DIR = {"llama30b": "layout_llama30b", "llama70b": "layout_llama70b"}
SOL_NAME = {"helix": "ilp_sol.ini", "swarm": "swarm_sol.ini", "petals": "petals_sol.ini"}
# sub-cluster parts of the paper's split runs
PARTS = {
    ("single24", "llama30b", "helix"): ("a100", "l4", "t4"),
    ("geo24", "llama30b", "helix"): ("a100", "l4", "t4"),
    ("single24", "llama30b", "separate"): ("a100", "l4", "t4"),
    ("single24", "llama70b", "separate"): ("a100", "l4", "t4"),
    ("geo24", "llama30b", "separate"): ("a100", "l4", "t4"),
    ("geo24", "llama70b", "separate"): ("a100", "l4", "t4"),
    ("hetero42", "llama70b", "separate"): ("a100", "l4", "l4x2", "t4x4"),
    ("hetero42", "llama70b", "sp_plus"): ("a100", "l4", "l4x2", "t4x4", "v100_t4"),
}


def layout_parts(cluster: str, model: str, base: str | None) -> tuple[str, ...]:
    """Parts of the authors' layout of method ``base`` (empty: one layout of the whole cluster)."""
    return PARTS.get((cluster, model, base), ())


def layout_files(
    artifact: str | Path,
    cluster: str,
    model: str,
    base: str | None,
    part: str | None = None,
    name: str | None = None,
) -> tuple[Path, Path]:
    """(``*_sol.ini``, ``simulator_cluster.ini``) of the authors' layout of method ``base``
    (``helix``, ``helix-noprune``, ...; ``name``: the method name errors show, e.g. ``paper-helix``)."""
    root = Path(artifact) / "artifact_evaluation"
    where = f"{cluster}/{model}/{name or base}" + (f"/{part}" if part else "")
    if base == "helix-sched" and cluster == "geo24" and model == "llama70b":
        d = root / "request_scheduling" / "layout_distributed"
        return d / "ilp_sol.ini", d / "simulator_cluster.ini"
    if base == "helix-noprune" and model == "llama70b" and cluster in ("geo24", "hetero42"):
        d = root / "ablation" / "layouts" / ("no_prune_24" if cluster == "geo24" else "no_prune_42")
        return d / "ilp_sol.ini", d / "simulator_cluster.ini"
    if cluster not in SECTION or model not in MODEL_DIR:
        raise HelixInputError(
            "paper layouts", "cluster/model", "the artifact has no layout for this cluster and model", where
        )
    d = root / SECTION[cluster] / MODEL_DIR[model]
    parts = layout_parts(cluster, model, base)
    if parts and part not in parts:
        raise HelixInputError("paper layouts", "part", f"{where} is split into parts {list(parts)}", part)
    if not parts and part:
        raise HelixInputError("paper layouts", "part", f"{cluster}/{model}/{name or base} has no parts", part)
    if base == "helix" and part:
        return d / "ilp" / part / "ilp_sol.ini", d / "ilp" / part / "simulator_cluster.ini"
    if base in SOL_NAME:
        sub = d / base.replace("helix", "ilp")
        return sub / SOL_NAME[base], sub / "simulator_cluster.ini"
    if base in ("separate", "sp_plus"):
        if cluster == "hetero42":
            sub = d / "separate" / part
            return sub / "solution_file.ini", sub / "simulator_cluster.ini"
        return d / "separate" / f"{part}_solution_file.ini", d / "separate" / f"{part}_simulator_cluster.ini"
    raise HelixInputError("paper layouts", "method", "no such paper layout", where)
