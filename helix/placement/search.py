"""Flow-scored local search over (start, size) per machine: the planner's primal heuristic.

Why: plain branch-and-bound on the MILP finds nothing on these models in minutes, while a search
that scores each candidate layout by its *exact* max-flow (about 0.1-0.5 ms) reaches or beats the
paper's Gurobi incumbents in seconds (docs/design/placement.md s10-11c). Moves snap a machine's start or end
to a boundary another machine already uses (so hand-overs line up), move a range, resize it, swap two
machines, or switch one off/on. Acceptance is simulated annealing on the flow value with plateau
moves always accepted; the search restarts from the best layout when it stalls.

Deterministic for a given seed and evaluation budget (``max_evals``); with a wall-clock deadline the
result can differ between runs on a loaded machine.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence

from helix.flow.graph import FlowContext


class LayoutSearch:
    def __init__(
        self,
        ctx: FlowContext,
        tables: Sequence[Sequence[float]],
        seed: int = 0,
        score: Callable[[list[int], list[int]], float] | None = None,
    ):
        self.ctx = ctx
        # the value of a layout: its exact max-flow by default; the served planner passes the
        # served-throughput estimate (helix/placement/served.py)
        self.score = score
        self.tables = [list(t) for t in tables]
        self.K = [min(len(t), ctx.num_layers) for t in self.tables]
        self.n = len(self.tables)
        self.L = ctx.num_layers
        self.rng = random.Random(seed)
        self.evals = 0

    def value(self, starts: Sequence[int], sizes: Sequence[int]) -> float:
        self.evals += 1
        if self.score is not None:
            return self.score(starts, sizes)
        ends = [s + k for s, k in zip(starts, sizes)]
        caps = [self.tables[i][k - 1] if k > 0 else 0.0 for i, k in enumerate(sizes)]
        return self.ctx.value(starts, ends, caps)

    # ----- moves --------------------------------------------------------------------------
    def _bounds(self, starts, sizes) -> list[int]:
        b = {0, self.L}
        for s, k in zip(starts, sizes):
            if k:
                b.add(s)
                b.add(s + k)
        return sorted(b)

    def neighbour(self, starts: list[int], sizes: list[int]) -> tuple[list[int], list[int]]:
        rng, L = self.rng, self.L
        st, sz = list(starts), list(sizes)
        bounds = self._bounds(st, sz)
        i = rng.randrange(self.n)
        K = self.K[i]
        r = rng.random()
        if sz[i] == 0 and r < 0.7:
            r = 0.95  # an unused machine can only be switched on
        if r < 0.28:  # snap end to a boundary
            s = st[i]
            cand = [b for b in bounds if s < b <= s + K and b != s + sz[i]]
            if cand:
                sz[i] = rng.choice(cand) - s
        elif r < 0.50:  # snap start to a boundary, keeping the end
            e = st[i] + sz[i]
            cand = [b for b in bounds if e - K <= b < e and b != st[i]]
            if cand:
                b = rng.choice(cand)
                st[i], sz[i] = b, e - b
        elif r < 0.65:  # move the range to start at a boundary
            b = rng.choice(bounds[:-1])
            ends = [x for x in bounds if b < x <= b + K]
            e = rng.choice(ends) if ends and rng.random() < 0.8 else min(b + K, L)
            st[i], sz[i] = b, e - b
        elif r < 0.75:  # resize by one layer, keeping start or end
            d = rng.choice((-1, 1))
            if rng.random() < 0.5:
                k = sz[i] + d
                if 1 <= k <= K and st[i] + k <= L:
                    sz[i] = k
            else:
                s = st[i] - d
                k = sz[i] + d
                if 1 <= k <= K and s >= 0:
                    st[i], sz[i] = s, k
        elif r < 0.87:  # swap with another machine
            j = rng.randrange(self.n)
            if sz[j] <= K and sz[i] <= self.K[j]:
                st[i], st[j] = st[j], st[i]
                sz[i], sz[j] = sz[j], sz[i]
        elif r < 0.92:  # switch off
            sz[i] = 0
            st[i] = 0
        else:  # switch on (or re-place): copy another machine's range or a boundary pair
            j = rng.randrange(self.n)
            if sz[j] and sz[j] <= K and rng.random() < 0.5:
                st[i], sz[i] = st[j], sz[j]
            else:
                b = rng.choice(bounds[:-1])
                ends = [x for x in bounds if b < x <= b + K]
                e = rng.choice(ends) if ends else min(b + K, L)
                st[i], sz[i] = b, e - b
        return st, sz

    # ----- annealing ----------------------------------------------------------------------
    def run(
        self,
        starts_list: Sequence[tuple[list[int], list[int]]],
        seconds: float,
        max_evals: int | None = None,
        on_improve: Callable[[float, list[int], list[int]], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> tuple[float, list[int], list[int]]:
        """Anneal from the best of ``starts_list``; returns (value, starts, sizes) of the best layout."""
        t0 = time.monotonic()
        best = None
        for st, sz in starts_list:
            v = self.value(st, sz)
            if best is None or v > best[0]:
                best = (v, list(st), list(sz))
        assert best is not None
        if on_improve:
            on_improve(best[0], best[1], best[2])
        cur_v, cur_s, cur_k = best
        since_best = 0
        stall = 4000
        while True:
            if max_evals is not None and self.evals >= max_evals:
                break
            elapsed = time.monotonic() - t0
            if max_evals is None and elapsed >= seconds:
                break
            if stop is not None and self.evals % 64 == 0 and stop():
                break
            progress = min(1.0, (self.evals / max_evals) if max_evals else elapsed / seconds)
            temp = max(1e-9, 0.03 * max(best[0], 1.0) * (1.0 - progress) ** 2)
            st, sz = self.neighbour(cur_s, cur_k)
            v = self.value(st, sz)
            if v >= cur_v or (v > 0 and self.rng.random() < math.exp((v - cur_v) / temp)):
                cur_v, cur_s, cur_k = v, st, sz
                if v > best[0] + 1e-9:
                    best = (v, list(st), list(sz))
                    since_best = 0
                    if on_improve:
                        on_improve(v, best[1], best[2])
            since_best += 1
            if since_best > stall:
                cur_v, cur_s, cur_k = best[0], list(best[1]), list(best[2])
                since_best = 0
        return best
