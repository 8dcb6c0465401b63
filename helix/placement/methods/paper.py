"""``paper-<method>``: the authors' own layouts, imported from the artifact's solution files.

Where the paper made one layout per single-type sub-cluster (separate pipelines; LLaMA-1 30B
helix on single24/geo24), machine i of the sub-cluster file is the i-th machine of that type in
the parent cluster, and the objective is the sum over the sub-clusters. The hetero42 SP+ chain file
has 16 machines labelled 8 V100 + 8 T4; they map in order onto the cluster's 6 V100 then 10 T4
(see sp_plus.py).
"""

from __future__ import annotations

from pathlib import Path

from helix.artifact.paper_layouts import layout_files
from helix.artifact.sol_ini import read_sol_ini
from helix.cluster import Cluster
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.placement.artifact_tables import lp_capacity_tables
from helix.placement.base import PlacementMethod, PlacementProblem, PlacementResult, register
from helix.placement.methods.separate import grouped_result
from helix.placement.names import paper_name

AE = "artifact_evaluation"
# (cluster, model) -> layout directory; per-type entries list (gpu types, file pattern)
DIRS = {
    ("single24", "llama70b"): f"{AE}/single_cluster/layout_llama70b",
    ("single24", "llama30b"): f"{AE}/single_cluster/layout_llama30b",
    ("geo24", "llama70b"): f"{AE}/distributed_clusters/layout_llama70b",
    ("geo24", "llama30b"): f"{AE}/distributed_clusters/layout_llama30b",
    ("hetero42", "llama70b"): f"{AE}/high_heterogeneity/layout_llama70b",
    ("small10", "llama30b"): f"{AE}/ablation/layouts",
}
WHOLE = {"helix": "ilp/ilp_sol.ini", "petals": "petals/petals_sol.ini", "swarm": "swarm/swarm_sol.ini"}
# whole-cluster layouts outside the main figures' folders (the scheduler comparison's older ILP
# layout, the ablation's MILP without pruning), found where the simulator finds them
OTHER = ("helix-noprune", "helix-sched")


def _per_type_files(cluster_key: str, model_key: str, method: str) -> list[tuple[list[str], str]] | None:
    if method == "helix" and model_key == "llama30b" and cluster_key in ("single24", "geo24"):
        return [([g], f"ilp/{g.lower()}/ilp_sol.ini") for g in ("A100", "L4", "T4")]
    if method in ("separate", "sp_plus"):
        if cluster_key == "hetero42":
            files = [([g], f"separate/{g.lower()}/solution_file.ini") for g in ("A100", "L4", "L4x2", "T4x4")]
            if method == "sp_plus":
                files.append((["V100", "T4"], "separate/v100_t4/solution_file.ini"))
            return files
        if method == "separate":
            return [([g], f"separate/{g.lower()}_solution_file.ini") for g in ("A100", "L4", "T4")]
    return None


def artifact_lp_tables(
    artifact_dir: Path, cluster_key: str, model_key: str, cluster: Cluster
) -> dict[str, list[float]]:
    """The authors' c(k) tables (LP coefficients) for the clusters with a committed whole-cluster LP."""
    d = DIRS.get((cluster_key, model_key))
    lp = (
        artifact_dir / d / ("quality/ilp_model.lp" if cluster_key == "small10" else "ilp/ilp_model.lp")
        if d
        else None
    )
    if lp is None or not lp.is_file():
        raise HelixInputError(
            "placement preset", "capacities", f"no artifact LP for {cluster_key}/{model_key}", "artifact"
        )
    tables = lp_capacity_tables(lp)
    return {cluster.machines[i].name: t for i, t in tables.items()}


@register("paper")
class Paper(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        method = self.variant or ""
        name = paper_name(method)
        if problem.artifact_dir is None:
            raise HelixInputError(None, "artifact", f"{name} needs the artifact directory")
        ck, mk = problem.cluster_key, problem.model_key
        if method in OTHER:
            sol, _ = layout_files(problem.artifact_dir, ck, mk, method, name=name)
            return self.finish(problem, read_sol_ini(sol, problem.L, problem.cluster), name)
        # sub-cluster names <parent>-<gpu> read the parent's per-type file directly
        sub_gpu = None
        if (ck, mk) not in DIRS and "-" in ck:
            ck, sub_gpu = ck.rsplit("-", 1)
        d = DIRS.get((ck, mk))
        if d is None:
            raise HelixInputError(
                None, "method", f"the artifact has no {name} layout for {problem.cluster_key}/{mk}", name
            )
        base = problem.artifact_dir / d
        per_type = _per_type_files(ck, mk, method)
        if sub_gpu is not None:
            match = [f for gpus, f in (per_type or []) if [g.lower() for g in gpus] == [sub_gpu]]
            if not match:
                raise HelixInputError(
                    None, "method", f"the artifact has no {name} layout for {problem.cluster_key}/{mk}", name
                )
            layout = read_sol_ini(base / match[0], problem.L, problem.cluster)
            return (
                self.finish(problem, layout, name)
                if method == "helix"
                else grouped_result(
                    problem,
                    layout,
                    {
                        problem.cluster.name: [
                            m.name for m in problem.cluster.machines if layout.ranges.get(m.name)
                        ]
                    },
                    name,
                )
            )
        if per_type is None:
            if method not in WHOLE or (ck == "small10" and method != "helix"):
                raise HelixInputError(
                    None, "method", f"the artifact has no {name} layout for {ck}/{mk}", name
                )
            path = base / ("quality/ilp_sol.ini" if ck == "small10" else WHOLE[method])
            layout = read_sol_ini(path, problem.L, problem.cluster)
            return self.finish(problem, layout, name)
        ranges: dict[str, tuple[int, int] | None] = {m.name: None for m in problem.cluster.machines}
        groups = {}
        for gpus, f in per_type:
            names = [m.name for g in gpus for m in problem.cluster.machines if m.gpu == g]
            raw = read_sol_ini(base / f, problem.L, None, prefix="#")
            order = sorted(raw.ranges, key=lambda k: int(k[1:]))
            if len(order) > len(names) and not (method == "sp_plus" and len(gpus) > 1):
                raise HelixInputError(
                    base / f,
                    "Solution",
                    f"more nodes than {'/'.join(gpus)} machines in {problem.cluster.name}",
                    len(order),
                )
            for name_, key in zip(names, order):
                ranges[name_] = raw.ranges[key]
            groups[f"{problem.cluster.name}-" + "-".join(g.lower() for g in gpus)] = names[: len(order)]
        layout = Layout(problem.L, ranges)
        return grouped_result(problem, layout, groups, name)
