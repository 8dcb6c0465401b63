"""Decode replay: the round trip of a decode token as the simulator's batching makes it.

Why: the served estimate's closed-form round trip (helix.placement.served) models a token's batch
as the tokens sharing its route (or its route's machine classes), and that misses how decode
tokens move in the simulator (docs/served.md, "What the estimate still gets wrong"): a machine
walks everything that landed during its previous walk, a platoon that lands on an idle machine
loses its first token to a lone walk (the simulator doubles a lone decode), the shed heads run
ahead and the platoons behind them wait, routes split platoons over machines of different speeds
and the merges happen wherever a platoon lands on a busy machine, behind a prompt or a platoon.
Measured with the simulator's loop instrumented, the batches are 0.12-0.93 of a machine's decoding
tokens, not any constant share, and on hetero42 the closed form's round trips were 20-50 % short.

:func:`replay_decode` runs that loop alone, with the estimate's inputs and none of the simulator:
``n_requests`` requests in a closed loop (the requests in flight of the estimate), each an (input,
output) pair of the trace drawn by a fixed seed and routed as the helix scheduler routes (IWRR: per
hop, of the links the routing chain keeps, the one minimising ``load + input / share``, which then
takes ``input / share`` of load, and every decode token adds ``1 / share`` to each link of its
route as it leaves, so long prompts go to the links of large flow), decoding its output one token
at a time, then finishing, and a new request launched
``LAUNCH_DELAY`` later whose prompt (the mean prompt: its walk and activation sends) travels its
route before its decode; the run starts in a steady state (the requests in flight drawn in
proportion to their output, each part-way through it); a run still filling adds prompts at the
estimate's surplus rate (``extra_prompt_rate``). A machine, when idle, takes what has landed and
walks it (up to ``Dm`` decodes, with every prompt), and whatever lands during a walk waits for the
next; links send one item at a time (token or prompt activations) after their latency. The
decode tokens completed in the simulator's measure window give the throughput, and Little's law
the round trip. Deterministic: the same inputs give the same numbers (fixed seed, no hash order).

Plain Python: 0.2-8 s of CPU per layout on the validation's layouts (the decode events of the 660 s
run). The validation's estimate uses it (``ServedModel(decode="replay")``,
helix.planning.validation.validation_model); the planner's search does not (docs/served.md).
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass

from helix.placement.admission import LAUNCH_DELAY

DECODE_SEED = 20251129  # the replay's draws of output lengths from the trace
_SOURCE, _SINK = -1, -2


@dataclass(frozen=True)
class ReplayNode:
    """One machine on routes: its layers, per-layer decode seconds by batch (index = batch, [1] the
    doubled lone decode), its decode batch limit Dm, the CPU-buffer copy per landed decode token
    and one mean prompt's walk (seconds)."""

    k: float
    dec: tuple[float, ...]
    dm: int
    copy: float
    prompt: float


@dataclass(frozen=True)
class ReplayArc:
    """One link of the routing chain: sender and receiver (``-1`` source, ``-2`` sink), the share of
    the sender's routes it takes, latency, one decode token's send time and one mean prompt's."""

    src: int
    dst: int
    share: float
    latency: float
    token_send: float
    prompt_send: float


@dataclass
class DecodeReplayResult:
    """Over the measure window: decode tokens per second, mean requests decoding and in their prompt."""

    throughput: float
    in_decode: float
    in_prompt: float

    @property
    def rtt(self) -> float:
        """Mean seconds per decode token by Little's law (0 when nothing decoded)."""
        return self.in_decode / self.throughput if self.throughput > 0 else 0.0


def iwrr_route(
    out_arcs: dict[int, list[tuple[int, float]]], arcs: Sequence[ReplayArc], load: list[float], w: float
) -> list[int]:
    """The helix scheduler's IWRR route of a request of input ``w``: from the source, per hop the link
    (of the sender's ``(arc, share)`` candidates) minimising ``load + w / share`` (the first on a tie),
    which then takes ``w / share`` of load; the arcs of the route in order."""
    path = []
    u = _SOURCE
    while u != _SINK:
        best, low = -1, float("inf")
        for a, share in out_arcs[u]:
            v = load[a] + w / share
            if v < low:
                best, low = a, v
        load[best] += w / arcs[best].share
        path.append(best)
        u = arcs[best].dst
    return path


def replay_decode(
    nodes: Sequence[ReplayNode],
    arcs: Sequence[ReplayArc],
    n_requests: int,
    lengths: tuple[Sequence[float], Sequence[float]],
    window: tuple[float, float],
    extra_prompt_rate: float = 0.0,
    seed: int = DECODE_SEED,
) -> DecodeReplayResult:
    """Replay the decode loop of ``n_requests`` requests of the trace's ``lengths`` (inputs, outputs)
    on ``nodes`` and ``arcs`` (module doc) up to ``window[1]`` seconds and measure over ``window``."""
    w0, w1 = window
    rng = random.Random(seed)
    ins = [float(v) for v in lengths[0]]
    outs = [max(int(o), 1) for o in lengths[1]]
    cum: list[int] = []
    total = 0
    for o in outs:
        total += o
        cum.append(total)
    out_arcs: dict[int, list[tuple[int, float]]] = {}
    for a, arc in enumerate(arcs):
        if arc.share > 0:
            out_arcs.setdefault(arc.src, []).append((a, arc.share))
    # every machine a route reaches must lead on (else no complete route: nothing decodes)
    seen, todo = {_SOURCE}, [_SOURCE]
    while todo:
        u = todo.pop()
        if u != _SINK and u not in out_arcs:
            return DecodeReplayResult(0.0, 0.0, 0.0)
        for a, _ in out_arcs.get(u, ()):
            v = arcs[a].dst
            if v not in seen:
                seen.add(v)
                todo.append(v)
    load = [0.0] * len(arcs)  # IWRR loads

    def route(w: float) -> list[int]:
        return iwrr_route(out_arcs, arcs, load, w)

    n = len(nodes)
    link_free = [0.0] * len(arcs)
    busy = [False] * n
    queue: list[list] = [[] for _ in range(n)]
    walking: list = [None] * n
    heap: list = []
    seq = 0
    done = 0
    n_dec = n_pr = 0
    area_dec = area_pr = 0.0
    last = w0
    # an item: [route, next hop, prompt (True) or decode, decode tokens left (-1: a surplus prompt)]
    LAND, START, END, LAUNCH, DECODE = range(5)

    def send(item: list, t: float) -> None:
        nonlocal seq
        arc = arcs[item[0][item[1]]]
        a = item[0][item[1]]
        if item[1] == 0 and not item[2]:  # a decode token leaves: 1 / share on each link of its route
            for b in item[0]:
                load[b] += 1.0 / arcs[b].share
        s = link_free[a] if link_free[a] > t else t
        f = s + (arc.prompt_send if item[2] else arc.token_send)
        link_free[a] = f
        seq += 1
        heapq.heappush(heap, (f + arc.latency, seq, LAND, item, arc.dst))

    def account(t: float) -> None:
        nonlocal area_dec, area_pr, last
        if t > w0:
            a = max(last, w0)
            area_dec += n_dec * (t - a)
            area_pr += n_pr * (t - a)
            last = t

    for x in range(n_requests):
        # a steady state: requests in flight drawn in proportion to their output, part-way through it
        y = min(bisect.bisect_right(cum, rng.random() * total), len(outs) - 1)
        item = [route(ins[y]), 0, False, 1 + rng.randrange(outs[y])]
        n_dec += 1
        seq += 1
        heapq.heappush(heap, (x / max(n_requests, 1), seq, DECODE, item, None))
    nxt = rng.expovariate(extra_prompt_rate) if extra_prompt_rate > 0 else float("inf")
    t = 0.0
    while heap:
        if nxt < heap[0][0]:
            t = nxt
            if t >= w1:
                break
            nxt = t + rng.expovariate(extra_prompt_rate)
            z = rng.randrange(len(outs))
            send([route(ins[z]), 0, True, -1], t)
            continue
        t, _, kind, item, u = heapq.heappop(heap)
        if t >= w1:
            break
        if kind == LAND:
            if u != _SINK:
                queue[u].append(item)
                if not busy[u]:  # it wakes the machine, after what lands at this same instant
                    busy[u] = True
                    seq += 1
                    heapq.heappush(heap, (t, seq, START, None, u))
                continue
            item[1] = 0
            if item[2]:  # a prompt done: its request decodes (a surplus prompt ends here)
                if item[3] < 0:
                    continue
                account(t)
                n_pr -= 1
                n_dec += 1
                item[2] = False
                send(item, t)
                continue
            if t >= w0:
                done += 1
            item[3] -= 1
            if item[3] > 0:
                send(item, t)
                continue
            account(t)
            n_dec -= 1
            y = rng.randrange(len(outs))  # the next request's output length
            seq += 1
            heapq.heappush(heap, (t + LAUNCH_DELAY, seq, LAUNCH, [route(ins[y]), 0, True, outs[y]], None))
        elif kind == START:
            node = nodes[u]
            batch, rest = [], []
            nd = 0
            prompts = 0
            for it in queue[u]:
                if it[2]:
                    prompts += 1
                    batch.append(it)
                elif nd < node.dm:
                    nd += 1
                    batch.append(it)
                else:
                    rest.append(it)
            queue[u] = rest
            dec = node.dec[nd if nd < len(node.dec) else len(node.dec) - 1] if nd else 0.0
            walk = node.k * dec + prompts * node.prompt + nd * node.copy
            walking[u] = batch
            seq += 1
            heapq.heappush(heap, (t + walk, seq, END, None, u))
        elif kind == END:
            for it in walking[u]:
                it[1] += 1
                send(it, t)
            walking[u] = None
            if queue[u]:
                seq += 1
                heapq.heappush(heap, (t, seq, START, None, u))
            else:
                busy[u] = False
        elif kind == LAUNCH:
            account(t)
            n_pr += 1
            send(item, t)
        else:  # DECODE: a request of the starting state sends its next token
            send(item, t)
    account(w1)
    span = w1 - w0
    return DecodeReplayResult(done / span, area_dec / span, area_pr / span)
