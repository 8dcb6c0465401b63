"""The layer-capacity upper bound on any layout's max-flow (docs/design/placement.md s10).

Every token/s of flow must pass through each of the L layers once, and a machine holding k layers
contributes at most k * min(c(k), F) layer-tokens/s to a flow of value F (a node never carries more
than the whole flow). So F is achievable only if sum_i max_k k * min(c_i(k), F) >= L * F. The left
side is concave and nondecreasing in F, so the largest such F is found by bisection. It is far
tighter than the MILP's LP bound (2045.6 vs ~1.5e5 on single24).
"""

from __future__ import annotations

from collections.abc import Sequence


def layer_capacity_bound(tables: Sequence[Sequence[float]], num_layers: int, tol: float = 1e-6) -> float:
    """Largest F with sum_i max_k k*min(c_i(k), F) >= L*F; ``tables`` = one c(k) list per machine."""
    L = num_layers

    def supply(F: float) -> float:
        return sum(max(k * min(c, F) for k, c in enumerate(t, start=1)) for t in tables if t)

    hi = sum(max(t) for t in tables if t)
    lo = 0.0
    if hi <= 0:
        return 0.0
    while hi - lo > tol * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        if supply(mid) >= L * mid:
            lo = mid
        else:
            hi = mid
    return lo


def problem_bound(problem) -> float:
    return layer_capacity_bound([problem.table(i) for i in range(problem.cluster.n)], problem.L)
