"""Separate pipelines (docs/design/placement.md s6): one pure chain per GPU type, each in its own sub-cluster.

The paper's files were written by hand; this rule reproduces them. A GPU type with n machines
gets a pipeline when an even split, ceil(L / n) layers per machine, is at most
``separate_overload`` (default 1.75) times its K: A100 4x20 (K 12), L4 8x10 (K 7), T4 12 x 6/7
(K 4) on single24/geo24; on hetero42 this also admits T4x2 (6 x 13/14, K 9), for which the artifact
has a file but the paper plots no result, so config/config.yaml lists the paper's four types for
hetero42 via ``separate_types``. V100 (6 x 14 > 1.75 x 4) and T4 on hetero42 (10 x 8 > 7) stay idle.
Machines are chained in cluster order; with L = q n + r, the first n - r hold q layers and the last
r hold q + 1 (the single24 files exactly; the geo24 T4 file has the same sizes in another machine
order). Pipelines exceed K, so capacities are clamped to the K-layer entry, as the paper's "force"
flag does, and each pipeline's table uses its own single-type machine mix (docs/design/placement.md trap 2).
The objective is the sum of the pipelines' max-flows on their sub-clusters (``groups`` in the result).
"""

from __future__ import annotations

import math

from helix.cluster import Cluster
from helix.errors import PlacementError
from helix.flow.graph import FlowContext, FlowGraph, _starts_ends, capacities_for
from helix.flow.maxflow import FlowResult, max_flow
from helix.layout import Layout
from helix.placement.base import PlacementMethod, PlacementProblem, PlacementResult, register


def even_split(L: int, n: int) -> list[int]:
    q, r = divmod(L, n)
    return [q] * (n - r) + [q + 1] * r


def chain(names: list[str], L: int) -> dict[str, tuple[int, int]]:
    out, s = {}, 0
    for name, k in zip(names, even_split(L, len(names))):
        out[name] = (s, s + k)
        s += k
    return out


def pipeline_types(problem: PlacementProblem) -> list[str]:
    s = problem.settings
    mix = problem.cluster.gpu_mix()
    if s.separate_types is not None:
        unknown = [g for g in s.separate_types if g not in mix]
        if unknown:
            raise PlacementError(
                "placement preset",
                "separate_types",
                f"GPU types not in cluster {problem.cluster.name}",
                unknown,
            )
        return list(s.separate_types)
    types = []
    for gpu, n in mix.items():
        i = next(j for j, m in enumerate(problem.cluster.machines) if m.gpu == gpu)
        if math.ceil(problem.L / n) <= s.separate_overload * problem.K(i):
            types.append(gpu)
    return types


def grouped_result(
    problem: PlacementProblem, layout: Layout, groups: dict[str, list[str]], method: str
) -> PlacementResult:
    """Sum of max-flows of each group on its own sub-cluster, with that group's machine-mix tables."""
    total = 0.0
    arcs: list = []
    node_caps: dict = {}
    arc_flows: dict = {}
    node_flows: dict = {}
    for gname, names in groups.items():
        keep = set(names)
        sub = Cluster(
            name=gname,
            machines=[m for m in problem.cluster.machines if m.name in keep],
            links=[l for l in problem.cluster.links if {l.a, l.b} <= keep | {"source", "sink"}],
            coordinator=problem.cluster.coordinator,
        )
        mix = sub.gpu_mix()
        tables = problem.tables_for_mix(mix) if problem.tables_for_mix else problem.tables
        sub_layout = Layout(layout.num_layers, {n: layout.ranges.get(n) for n in names})
        caps = capacities_for(sub, sub_layout, tables, clamp=True)
        starts, ends = _starts_ends(sub, sub_layout)
        g = FlowContext.for_model(sub, problem.model).graph(
            starts, ends, [caps.get(m.name, 0.0) for m in sub.machines]
        )
        res = max_flow(g)
        total += res.value
        arcs += g.arcs
        node_caps.update(g.node_capacity)
        arc_flows.update(res.arc_flows)
        node_flows.update(res.node_flows)
    graph = FlowGraph(layout.num_layers, list(node_caps), node_caps, arcs)
    flow = FlowResult(total, arc_flows, node_flows)
    return PlacementResult(
        layout=layout, method=method, objective=total, graph=graph, flow=flow, groups=groups
    )


def separate_layout(problem: PlacementProblem) -> tuple[Layout, dict[str, list[str]]]:
    types = pipeline_types(problem)
    if not types:
        raise PlacementError(
            f"cluster {problem.cluster.name}",
            "machines",
            "no GPU type can hold the model as its own pipeline",
        )
    ranges: dict[str, tuple[int, int] | None] = {m.name: None for m in problem.cluster.machines}
    groups = {}
    for gpu in types:
        names = [m.name for m in problem.cluster.machines if m.gpu == gpu]
        ranges.update(chain(names, problem.L))
        groups[f"{problem.cluster.name}-{gpu.lower()}"] = names
    return Layout(problem.L, ranges), groups


@register("separate")
class Separate(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        layout, groups = separate_layout(problem)
        return grouped_result(problem, layout, groups, "separate")
