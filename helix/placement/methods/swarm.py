"""Swarm baseline (docs/design/placement.md s6), reproducing the authors' layouts exactly.

The model is cut into equal stages (20 x 4 layers for LLaMA-2 70B, 10 x 6 for LLaMA-1 30B); our
default stage size is the largest divisor of L that every machine can hold (max d | L, d <= min K),
which gives exactly those numbers; ``swarm_stages`` overrides it. Machines sorted by c_i(stage
size) descending (ties: larger index first) each join the stage with the least accumulated
throughput (lowest stage on ties).
"""

from __future__ import annotations

from helix.errors import PlacementError
from helix.placement.base import (
    PlacementMethod,
    PlacementProblem,
    PlacementResult,
    layout_from_vectors,
    register,
)


def swarm_stage_size(problem: PlacementProblem) -> int:
    L = problem.L
    stages = problem.settings.swarm_stages
    min_k = min(problem.K(i) for i in range(problem.cluster.n))
    if stages is None:
        size = max(d for d in range(1, min(min_k, L) + 1) if L % d == 0)
    else:
        if L % stages:
            raise PlacementError("placement preset", "swarm_stages", f"must divide the {L} layers", stages)
        size = L // stages
        if size > min_k:
            raise PlacementError(
                "placement preset",
                "swarm_stages",
                f"stages of {size} layers exceed a machine's K={min_k}",
                stages,
            )
    return size


def swarm_layout(problem: PlacementProblem) -> tuple[list[int], list[int]]:
    size = swarm_stage_size(problem)
    num_stages = problem.L // size
    n = problem.cluster.n
    order = sorted(((problem.table(i)[size - 1], i) for i in range(n)), reverse=True)
    acc = [0.0] * num_stages
    starts, sizes = [0] * n, [size] * n
    for perf, i in order:
        stage = min(range(num_stages), key=lambda t: (acc[t], t))
        starts[i] = stage * size
        acc[stage] += perf
    return starts, sizes


@register("swarm")
class Swarm(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        problem.check_fits()
        starts, sizes = swarm_layout(problem)
        return self.finish(problem, layout_from_vectors(problem.cluster, problem.L, starts, sizes), "swarm")
