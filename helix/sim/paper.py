"""Where the paper's own layouts live in the artifact: ``paper-<method>`` -> (solution, graph) files.

docs/design/simulator.md s7 lists which files each reference figure simulated. Methods with per-type
sub-cluster runs (separate, sp_plus, LLaMA-1 30B helix on single24/geo24) have one entry per part.
Two extra method names cover layouts that are not the main figures' ones: ``paper-helix-sched``
(the older ILP layout of the scheduler comparison, s7 "6.7") and ``paper-helix-noprune``
(the ablation's MILP without pruning).
"""

from __future__ import annotations

from pathlib import Path

from helix.errors import HelixInputError
from helix.placement.names import paper_method

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


def paper_parts(cluster: str, model: str, method: str) -> tuple[str, ...]:
    """Parts of a paper run (empty: one run on the whole cluster)."""
    base = paper_method(method)
    return PARTS.get((cluster, model, base), ())


def paper_files(artifact: str | Path, cluster: str, model: str, method: str, part: str | None = None) -> tuple[Path, Path]:
    """(``*_sol.ini``, ``simulator_cluster.ini``) of a paper layout."""
    root = Path(artifact) / "artifact_evaluation"
    base = paper_method(method)
    where = f"{cluster}/{model}/{method}" + (f"/{part}" if part else "")
    if base == "helix-sched" and cluster == "geo24" and model == "llama70b":
        d = root / "request_scheduling" / "layout_distributed"
        return d / "ilp_sol.ini", d / "simulator_cluster.ini"
    if base == "helix-noprune" and model == "llama70b" and cluster in ("geo24", "hetero42"):
        d = root / "ablation" / "layouts" / ("no_prune_24" if cluster == "geo24" else "no_prune_42")
        return d / "ilp_sol.ini", d / "simulator_cluster.ini"
    if cluster not in SECTION or model not in MODEL_DIR:
        raise HelixInputError("paper layouts", "cluster/model", "the artifact has no layout for this cluster and model", where)
    d = root / SECTION[cluster] / MODEL_DIR[model]
    parts = paper_parts(cluster, model, method)
    if parts and part not in parts:
        raise HelixInputError("paper layouts", "part", f"{where} is split into parts {list(parts)}", part)
    if not parts and part:
        raise HelixInputError("paper layouts", "part", f"{cluster}/{model}/{method} has no parts", part)
    if base == "helix" and part:
        return d / "ilp" / part / "ilp_sol.ini", d / "ilp" / part / "simulator_cluster.ini"
    if base in SOL_NAME:
        return d / base.replace("helix", "ilp") / SOL_NAME[base], d / base.replace("helix", "ilp") / "simulator_cluster.ini"
    if base in ("separate", "sp_plus"):
        if cluster == "hetero42":
            return d / "separate" / part / "solution_file.ini", d / "separate" / part / "simulator_cluster.ini"
        return d / "separate" / f"{part}_solution_file.ini", d / "separate" / f"{part}_simulator_cluster.ini"
    raise HelixInputError("paper layouts", "method", "no such paper layout", where)
