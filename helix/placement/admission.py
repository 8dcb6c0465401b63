"""Admission replay: the requests a layout holds in flight under the simulator's offline closed loop.

Why: the served estimate's closed-form bound on requests in flight (the per-layer KV of the scarcest
layer over the mean KV of a request) is right where the feeder binds and wrong where the router
does (docs/served.md, "What the estimate still gets wrong"): every finished prompt and every finished
request launches one more request while the feeder's per-layer check passes, the helix scheduler
routes each by interleaved weighted round robin (IWRR: the unmasked link minimising
``load + input / flow``, decode tokens adding ``1 / flow`` along their route) and rejects it when a
hop has no candidate with room for its expected KV (``avail - x * k >= floor``), and a rejected
launch is dropped. IWRR sends long prompts to links of large flow and short ones to the others, and
the machines that fill are the single candidates of some hop, so the requests in flight and their
lengths depend on the layout's routes, not only on its scarcest layer.

:func:`replay` runs that admission alone, with no compute: requests drawn from the trace's
(input, output) pairs by a fixed seed, each admitted one staying for its route's prompt latency and
then ``output`` times its route's round trip (both from the estimate), the scheduler's rules for
routing, KV expectation and rejection, the feeder's per-layer check, and the run's start (a few
requests at 0.1 s apart). It returns the time averages over a steady window (in flight, in their
prompt, their KV expectation) that the estimate's Little's-law fixed point then uses in place of
the bound. Deterministic: the same inputs give the same answer (no hash order, fixed seed).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LAUNCH_DELAY = 0.1  # s from a trigger to its launch (helix/workload/offline.py; a test keeps them equal)
REPLAY_SEED = 20251129  # the replay's draws of (input, output) pairs from the trace
# the steady window, in mean request lifetimes (prompt latency + mean output x round trip), after the
# first time the feeder or the router turns a launch down
REPLAY_SETTLE = 1.0
REPLAY_SPAN = 3.0
REPLAY_MAX_LAUNCHES = 60_000  # a guard on the cost (reached only by layouts of thousands in flight)


@dataclass
class ReplayResult:
    """Time averages over the replay's steady window."""

    in_flight: float  # admitted requests, launch to finish
    in_prompt: float  # of those, before their prompt finished
    in_decode_rate: float  # sum over decoding requests of 1 / their route's round trip (tokens/s)
    rejected_share: float  # of the launches in the window
    input_in_flight: float  # mean input of the requests in flight (time-weighted)
    kv_in_flight: float  # mean KV expectation (input + 240 * ratio) of the requests in flight
    admitted: int  # requests admitted in the window


def replay(
    n_nodes: int,
    node_k: Sequence[int],
    node_cap: Sequence[float],
    holder_groups: Sequence[Sequence[int]],
    links: Sequence[tuple[int, int, float]],
    node_cost: Sequence[tuple[float, float]],
    link_cost: Sequence[tuple[float, float]],
    pairs: tuple[np.ndarray, np.ndarray],
    kv_hwm: float,
    kv_extra: float,
    feed_hwm: float,
    n_init: int,
) -> ReplayResult:
    """Replay the offline closed loop's admission on one layout.

    ``n_nodes`` compute nodes 0..n-1 (the source is ``-1``, the sink ``-2``); ``node_k`` their layer
    counts, ``node_cap`` their KV slots (token x layer), ``holder_groups`` the distinct sets of nodes
    holding a layer (the feeder's check, every holder); ``links`` (sender, receiver, flow) in the
    scheduler's link order, only links that stay candidates (the 5 % mask applied); per node and
    per link ``(prompt seconds, decode seconds per token)`` that a request passing it spends there
    (summed along its route: its prompt latency and round trip); ``pairs`` the trace's inputs and
    outputs; ``kv_extra`` the expected output tokens counted in the KV expectation
    (240 * kv_ratio); ``n_init`` requests start 0.1 s apart.
    """
    inputs, outputs = pairs
    rng = np.random.default_rng(REPLAY_SEED)
    k = [int(v) for v in node_k]
    cap = [float(c) for c in node_cap]
    floor = [(1.0 - kv_hwm) * c for c in cap]
    avail = list(cap)
    # feeder groups: free = sum avail / k over members, usage = 1 - free / total
    g_tot = [sum(cap[u] / k[u] for u in g) for g in holder_groups]
    g_free = list(g_tot)
    node_groups: list[list[int]] = [[] for _ in range(n_nodes)]
    for gi, g in enumerate(holder_groups):
        for u in g:
            node_groups[u].append(gi)
    g_live = [gi for gi, t in enumerate(g_tot) if t > 0]
    limit = 1.0 - feed_hwm  # may launch while every group's free share is at least this

    def may_launch() -> bool:
        for gi in g_live:
            if g_free[gi] < limit * g_tot[gi]:
                return False
        return True

    # candidates per sender; IWRR loads with decode tokens accrued lazily (rate x time)
    cands: dict[int, list[int]] = {}
    l_dst, inv = [], []
    for j, (a, b, f) in enumerate(links):
        cands.setdefault(a, []).append(j)
        l_dst.append(b)
        inv.append(1.0 / f)
    nl = len(links)
    loads = [0.0] * nl
    d_rate = [0.0] * nl  # decode tokens per second currently crossing the link
    d_last = [0.0] * nl
    n_pc = [c[0] for c in node_cost]
    n_dc = [c[1] for c in node_cost]
    l_pc = [c[0] for c in link_cost]
    l_dc = [c[1] for c in link_cost]

    def settle(j: int, t: float) -> float:
        v = loads[j] + inv[j] * d_rate[j] * (t - d_last[j])
        loads[j] = v
        d_last[j] = t
        return v

    def plan(w: float, x: float, t: float) -> list[int] | None:
        chosen: list[int] = []
        cur = -1
        while cur != -2:
            best, best_v = -1, math.inf
            for j in cands.get(cur, ()):
                dst = l_dst[j]
                if dst >= 0 and avail[dst] - x * k[dst] < floor[dst]:
                    continue
                v = settle(j, t) + w * inv[j]
                if v < best_v:
                    best_v, best = v, j
            if best < 0:
                for j in chosen:
                    loads[j] -= w * inv[j]
                return None
            loads[best] += w * inv[best]
            chosen.append(best)
            cur = l_dst[best]
        return chosen

    def take(route: list[int], x: float, sign: float) -> None:
        for j in route:
            u = l_dst[j]
            if u >= 0:
                d = sign * x * k[u]
                avail[u] += d
                for gi in node_groups[u]:
                    g_free[gi] += d / k[u]

    # draws of the trace's pairs, made in blocks (one generator, fixed seed)
    n_tr = len(inputs)
    block: list[int] = []

    def draw() -> tuple[float, float]:
        if not block:
            block.extend(rng.integers(0, n_tr, 4096).tolist()[::-1])
        q = block.pop()
        return float(inputs[q]), float(outputs[q])

    heap: list[tuple[float, int, int, int]] = []  # (time, seq, kind, request)
    LAUNCH, PROMPT, FINISH = 0, 1, 2
    for q in range(n_init):
        heap.append((LAUNCH_DELAY * q, q, LAUNCH, -1))
    heapq.heapify(heap)
    seq = n_init
    reqs: list[tuple[float, float, list[int], float]] = []  # (input, x, route, round trip)
    # the window opens REPLAY_SETTLE mean lifetimes after the loop first turns a launch down (feeder
    # or router) and lasts REPLAY_SPAN lifetimes
    t_open = t_end = math.inf
    area_f = area_p = area_in = area_x = area_d = 0.0  # time integrals over the window
    n_flight = n_prompt = 0
    s_in = s_x = s_rate = 0.0  # sums over requests in flight (input, x) and decoding (1 / rtt)
    last = 0.0
    launches = rejected = admitted = total = 0
    life_sum = 0.0

    while heap:
        t, _, kind, r = heapq.heappop(heap)
        dt = min(t, t_end) - max(last, t_open)
        if dt > 0:
            area_f += n_flight * dt
            area_p += n_prompt * dt
            area_in += s_in * dt
            area_x += s_x * dt
            area_d += s_rate * dt
        if t >= t_end:
            last = t_end
            break
        last = t
        limited = False
        if kind == LAUNCH:
            total += 1
            in_win = t >= t_open
            launches += in_win
            w, out = draw()
            x = w + kv_extra
            route = plan(w, x, t)
            if route is None:
                rejected += in_win
                limited = True
            else:
                take(route, x, -1.0)
                pl = rtt = 0.0
                for j in route:
                    pl += l_pc[j]
                    rtt += l_dc[j]
                    u = l_dst[j]
                    if u >= 0:
                        pl += n_pc[u]
                        rtt += n_dc[u]
                rtt = max(rtt, 1e-9)
                reqs.append((w, x, route, rtt))
                admitted += in_win
                n_flight += 1
                n_prompt += 1
                s_in += w
                s_x += x
                life_sum += pl + out * rtt
                heapq.heappush(heap, (t + pl, seq, PROMPT, len(reqs) - 1))
                heapq.heappush(heap, (t + pl + out * rtt, seq + 1, FINISH, len(reqs) - 1))
                seq += 2
        else:
            w, x, route, rtt = reqs[r]
            step = 1.0 / rtt if kind == PROMPT else -1.0 / rtt
            if kind == PROMPT:
                n_prompt -= 1
            else:
                n_flight -= 1
                s_in -= w
                s_x -= x
                take(route, x, 1.0)
            s_rate += step
            for j in route:
                settle(j, t)
                d_rate[j] += step
            if may_launch() and total < REPLAY_MAX_LAUNCHES:
                heapq.heappush(heap, (t + LAUNCH_DELAY, seq, LAUNCH, -1))
                seq += 1
            else:
                limited = True
        if limited and t_open == math.inf:
            life = life_sum / max(len(reqs), 1)
            t_open = t + REPLAY_SETTLE * life
            t_end = t_open + REPLAY_SPAN * life
    span = last - t_open
    if not span > 0:  # no window (no request, or the loop ran dry): the state at the end
        span = 1.0
        area_f, area_p, area_in, area_x, area_d = n_flight, n_prompt, s_in, s_x, s_rate
    nf = area_f / span
    return ReplayResult(
        in_flight=nf,
        in_prompt=area_p / span,
        in_decode_rate=area_d / span,
        rejected_share=rejected / launches if launches else 0.0,
        input_in_flight=area_in / area_f if area_f > 0 else 0.0,
        kv_in_flight=area_x / area_f if area_f > 0 else 0.0,
        admitted=admitted,
    )
