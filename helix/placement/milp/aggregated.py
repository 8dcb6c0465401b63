"""The aggregated interval model of docs/design/placement.md s11a: exact when no network link can bind.

With every machine pair linked and every link faster than any machine, the machines ending at a
layer boundary and those starting there act as one hub, so only *how many* machines of each GPU
type hold each interval [s, s+k) matters: integer x_{t,s,k} <= N_t in total per type, flow
f_{t,s,k} <= c_t(k) x_{t,s,k}, conservation at every inner boundary, maximise the flow out of
boundary 0. This removes the identical-GPU symmetry (24!/(4!8!12!) relabellings on single24) and
all big-M switches. Capacities are capped at a valid upper bound on the flow (no interval carries
more than the whole flow), which tightens the LP from the sum-of-k*c(k) bound towards the
layer-capacity bound.
"""

from __future__ import annotations

from helix.placement.milp.model import INF, Milp, _Builder


def build_aggregated(
    types: list[tuple[str, int, list[float]]], L: int, flow_cap: float = INF, target: float | None = None
):
    """``types`` = [(gpu, count, c(k) table)]; the Milp carries its intervals [(type index, s, k)].

    With ``target`` the model is a feasibility question, "is a flow of exactly ``target``
    possible?": any layout with a larger max-flow can scale its flow down to the target, so every
    interval may be capped at min(c, target), which makes the LP much tighter; infeasibility then
    proves that no layout reaches ``target`` (how the planner closes the gap on small10). Layer
    cover cuts (below) make that proof short.
    """
    if target is not None:
        flow_cap = min(flow_cap, target)
    b = _Builder()
    intervals: list[tuple[int, int, int]] = []
    xcol, fcol = [], []
    for t, (gpu, count, table) in enumerate(types):
        for s in range(L):
            for k in range(1, min(len(table), L - s) + 1):
                intervals.append((t, s, k))
                xcol.append(b.var(f"x_{gpu}_{s}_{k}", 0.0, float(count), integer=True))
                fcol.append(
                    b.var(f"f_{gpu}_{s}_{k}", 0.0, INF, obj=1.0 if (s == 0 and target is None) else 0.0)
                )
    for t, (gpu, count, _) in enumerate(types):
        b.row(
            f"count_{gpu}", [(xcol[a], 1.0) for a, iv in enumerate(intervals) if iv[0] == t], hi=float(count)
        )
    for a, (t, s, k) in enumerate(intervals):
        c = min(types[t][2][k - 1], flow_cap)
        b.row(f"cap_{types[t][0]}_{s}_{k}", [(fcol[a], 1.0), (xcol[a], -c)], hi=0.0)
    ending: list[list[int]] = [[] for _ in range(L + 1)]
    starting: list[list[int]] = [[] for _ in range(L + 1)]
    for a, (t, s, k) in enumerate(intervals):
        starting[s].append(a)
        ending[s + k].append(a)
    for bd in range(1, L):
        b.row(
            f"conserve_{bd}",
            [(fcol[a], 1.0) for a in ending[bd]] + [(fcol[a], -1.0) for a in starting[bd]],
            0.0,
            0.0,
        )
    if target is not None:
        b.row("target", [(fcol[a], 1.0) for a in starting[0]], float(target), float(target))
        # Layer cover cuts: a layer covered by one machine alone needs c >= target, otherwise at
        # least two machines cover it. So sum_{intervals over the layer} w x >= 1 with w = 1 when
        # c >= target and w = 1/2 otherwise. The LP alone misses this (it mixes fractional pieces);
        # with it the small10 question "is 286.60 reachable?" is infeasible at the root.
        for layer in range(L):
            terms = [
                (xcol[a], 1.0 if types[t][2][k - 1] >= target else 0.5)
                for a, (t, s, k) in enumerate(intervals)
                if s <= layer < s + k
            ]
            b.row(f"cover_{layer}", terms, lo=1.0)
    milp = b.build()
    milp.agg_intervals = intervals
    milp.agg_x = xcol
    milp.agg_f = fcol
    return milp


def aggregated_start(milp: Milp, machine_type: list[int], starts, sizes, node_flows: list[float]):
    import numpy as np

    x = np.zeros(len(milp.col_names))
    pos = {iv: a for a, iv in enumerate(milp.agg_intervals)}
    for i, k in enumerate(sizes):
        if k > 0:
            a = pos[(machine_type[i], starts[i], k)]
            x[milp.agg_x[a]] += 1
            x[milp.agg_f[a]] += node_flows[i]
    return x


def aggregated_decode(milp: Milp, x, machine_type: list[int]) -> tuple[list[int], list[int]]:
    """Hand each type's intervals to that type's machines in cluster order; the rest stay unused."""
    n = len(machine_type)
    starts, sizes = [0] * n, [0] * n
    free: dict[int, list[int]] = {}
    for i, t in enumerate(machine_type):
        free.setdefault(t, []).append(i)
    for a, (t, s, k) in enumerate(milp.agg_intervals):
        for _ in range(int(round(x[milp.agg_x[a]]))):
            if free.get(t):
                i = free[t].pop(0)
                starts[i], sizes[i] = s, k
    return starts, sizes
