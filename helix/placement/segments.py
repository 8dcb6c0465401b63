"""Region-aware starting layouts for the served planner: pipelines inside regions, few crossings.

Why: a token's round trip pays every slow link it crosses (latency, and the wait behind prompt
activations that take about a second each on a 12.5 MB/s link), and the max-flow search, blind to
latency, ends up crossing regions many times per route (docs/design/served-throughput.md s4, s6). Where
layer boundaries do not coincide between two regions no arc joins them, so a layout can forbid
crossings without deleting a link. These starts cut the model at one boundary ``b``: each region
(the cluster's ``region`` labels; one region on a single-site cluster) serves the front
``[0, b)``, the back ``[b, L)``, or both, as complete pipelines of its own machines; machines left
over replicate the weakest stage. Every route then crosses regions at most once. The served
search (helix/placement/methods/helix.py) scores them all and anneals from the best.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def _pipelines(machines: Sequence[int], K: Sequence[int], cap: Sequence[Sequence[float]], a: int, c: int):
    """Cover layers [a, c) with as many complete pipelines of ``machines`` as they can hold.

    Machines are taken by capacity at K layers (strongest first); a pipeline gets machines until
    their K sum reaches the segment, and its layers are split in proportion to K. Machines left
    over join the stage with the least capacity per machine whose length they can hold.
    Returns {machine: (start, size)}.
    """
    n_layers = c - a
    order = sorted(machines, key=lambda i: (-cap[i][K[i] - 1] * K[i], i))
    out: dict[int, tuple[int, int]] = {}
    stages: list[tuple[int, int, list[int]]] = []  # (start, size, holders)
    rest = list(order)
    while sum(K[i] for i in rest) >= n_layers and rest:
        group, total = [], 0
        for i in list(rest):
            if total >= n_layers:
                break
            group.append(i)
            total += K[i]
        for i in group:
            rest.remove(i)
        # proportional split, then fix rounding without exceeding K
        sizes = [max(1, min(K[i], round(n_layers * K[i] / total))) for i in group]
        diff = n_layers - sum(sizes)
        j = 0
        while diff != 0 and j < 10 * len(group):
            q = j % len(group)
            if diff > 0 and sizes[q] < K[group[q]]:
                sizes[q] += 1
                diff -= 1
            elif diff < 0 and sizes[q] > 1:
                sizes[q] -= 1
                diff += 1
            j += 1
        if diff != 0:
            break
        s = a
        for i, k in zip(group, sizes):
            out[i] = (s, k)
            stages.append((s, k, [i]))
            s += k
    for i in rest:  # replicate the weakest stage this machine can hold
        best = None
        for q, (s, k, holders) in enumerate(stages):
            if k > K[i]:
                continue
            load = sum(cap[h][k - 1] for h in holders)
            if best is None or load < best[0]:
                best = (load, q)
        if best is not None:
            s, k, holders = stages[best[1]]
            holders.append(i)
            out[i] = (s, k)
    return out


def segment_layouts(
    regions: Sequence[str], K: Sequence[int], cap: Sequence[Sequence[float]], L: int, step: int | None = None
):
    """Candidate (starts, sizes) with one cut at b; per region: front, back, or both (split).

    ``regions`` gives each machine's region, ``K`` its layer limit, ``cap`` its c(k) table.
    Yields deduplicated layouts; with more than four regions only the all-regions-alike choices
    are tried (the count grows as 3^regions).
    """
    n = len(regions)
    names = list(dict.fromkeys(regions))
    members = {r: [i for i in range(n) if regions[i] == r and K[i] > 0] for r in names}
    step = step or max(1, L // 40)
    cuts = list(range(step, L, step))
    choices = (
        list(itertools.product(("front", "back", "both"), repeat=len(names)))
        if len(names) <= 4
        else [tuple([c] * len(names)) for c in ("front", "back", "both")]
    )
    seen = set()
    whole = []  # a region that can hold the model alone: its own full pipelines
    for r in names:
        whole.append(_pipelines(members[r], K, cap, 0, L))
    for b in cuts:
        for choice in choices:
            if "front" not in choice and "both" not in choice:
                continue
            if "back" not in choice and "both" not in choice:
                continue
            assign: dict[int, tuple[int, int]] = {}
            for r, ch in zip(names, choice):
                ms = members[r]
                if ch == "front":
                    assign.update(_pipelines(ms, K, cap, 0, b))
                elif ch == "back":
                    assign.update(_pipelines(ms, K, cap, b, L))
                else:
                    # split the region's machines between the two segments in proportion to their length
                    order = sorted(ms, key=lambda i: (-cap[i][K[i] - 1] * K[i], i))
                    front, back, kf, kb = [], [], 0, 0
                    for i in order:
                        if kf * (L - b) <= kb * b:
                            front.append(i)
                            kf += K[i]
                        else:
                            back.append(i)
                            kb += K[i]
                    assign.update(_pipelines(front, K, cap, 0, b))
                    assign.update(_pipelines(back, K, cap, b, L))
            key = tuple(sorted(assign.items()))
            if not assign or key in seen:
                continue
            seen.add(key)
            yield [assign.get(i, (0, 0))[0] for i in range(n)], [assign.get(i, (0, 0))[1] for i in range(n)]
    for w in whole:
        key = tuple(sorted(w.items()))
        if w and key not in seen:
            seen.add(key)
            yield [w.get(i, (0, 0))[0] for i in range(n)], [w.get(i, (0, 0))[1] for i in range(n)]
