"""Petals baseline (docs/design/placement.md s6), reproducing the authors' layouts exactly.

Machines are visited in a *seeded shuffle* of [(c_i(K_i), i)] (Python's ``random`` with the preset
seed; the original sorts nothing, docs/design/placement.md trap 6). Each machine takes the K_i-layer window
whose loads, sorted ascending, are lexicographically smallest (earliest window on ties), then adds c_i(K_i)
to the load of each of those layers.
"""

from __future__ import annotations

import random

from helix.placement.base import (
    PlacementMethod,
    PlacementProblem,
    PlacementResult,
    layout_from_vectors,
    register,
)


def petals_layout(problem: PlacementProblem, seed: int = 0) -> tuple[list[int], list[int]]:
    L = problem.L
    n = problem.cluster.n
    order = [(problem.table(i)[problem.K(i) - 1], i) for i in range(n)]
    random.Random(seed).shuffle(order)
    load = [0.0] * L
    starts, sizes = [0] * n, [0] * n
    for perf, i in order:
        K = min(problem.K(i), L)
        best_w, best_key = 0, None
        for w in range(0, L - K + 1):
            key = sorted(load[w : w + K])
            if best_key is None or key < best_key:
                best_w, best_key = w, key
        starts[i], sizes[i] = best_w, K
        for layer in range(best_w, best_w + K):
            load[layer] += perf
    return starts, sizes


@register("petals")
class Petals(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        problem.check_fits()
        starts, sizes = petals_layout(problem, problem.settings.seed)
        return self.finish(problem, layout_from_vectors(problem.cluster, problem.L, starts, sizes), "petals")
