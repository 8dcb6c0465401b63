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
proportion to their output, each part-way through it, both draws stratified so that the start has
the trace's mix and an even spread of finishing times); a run still filling adds prompts at the
estimate's surplus rate (``extra_prompt_rate``, evenly spaced from a random phase). A machine, when
idle, takes what has landed and walks it (up to ``Dm`` decodes, with every prompt), and whatever
lands during a walk waits for the next; links send one item at a time (token or prompt
activations) after their latency. The tokens a walk sends on one link travel as one group (one
event, its items landing one send time apart) and a walk takes of a group what has landed, so a
token landing on an idle machine still walks alone, as the simulator's shed heads do. The decode
tokens completed in the measure window give the throughput, and Little's law the round trip. The
served estimate runs three fixed seeds over 30-90 s and averages them (``DECODE_SEEDS``,
``DECODE_WINDOW``): one run over the simulator's whole window (60-660 s) costs 2.4 times as much
and its pairs in the validation hinge on its seed. Deterministic: the same inputs give the same
numbers (fixed seeds, no hash order).

The event loop itself is :mod:`helix.placement.decode_loop` (plain Python, the reference), or its
compiled copy ``helix.placement._decode_c`` when ``setup.py`` built one from the same source (Cython,
the same steps on the same numbers: :func:`decode_core`; ``HELIX_REPLAY_CORE`` picks the loop of
both replays). The validation's estimate uses it (``ServedModel(decode="replay")``,
helix.planning.validation.validation_model); the planner's search does not (docs/served.md).
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from helix.compiled import choose, current_copy, source_hash
from helix.placement import decode_loop as py_loop
from helix.placement.admission import LAUNCH_DELAY

DECODE_SEED = 20251129  # the replay's draws of output lengths from the trace
# what the served estimate replays (docs/served.md, "The decode loop replayed, compiled and
# shorter"): three runs of fixed seeds from the steady state, each measured over 30-90 s (the first
# 30 s let the platoons form), averaged: the validation's pairs are then the same for other seeds,
# at 0.4 of the cost of one run over the simulator's window (60-660 s)
DECODE_SEEDS = (DECODE_SEED, DECODE_SEED + 1, DECODE_SEED + 2)
DECODE_WINDOW = (30.0, 90.0)
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
    which then takes ``w / share`` of load; the arcs of the route in order. The replay's own rule
    (:func:`helix.placement.decode_loop.route`), called on ``load`` in place."""
    n = 1 + max((a.src for a in arcs), default=-1)
    rows = [[a for a, _ in out_arcs.get(u, ())] for u in range(-1, n)]
    c_start = [0]
    for row in rows:
        c_start.append(c_start[-1] + len(row))
    rt = [0] * (n + 1)
    h = py_loop.route(
        c_start,
        [a for row in rows for a in row],
        [a.dst for a in arcs],
        [a.share for a in arcs],
        load,
        rt,
        0,
        w,
    )
    return rt[:h]


@dataclass(frozen=True)
class DecodeTrace:
    """The trace's (input, output) pairs as the loop takes them: inputs, outputs (at least 1 token)
    and the running sums of the outputs (to draw a request in proportion to its output). Made once
    per trace (:meth:`of`) and kept by the caller: building them costs more than a short replay."""

    ins: array
    outs: array
    cum: array

    @classmethod
    def of(cls, lengths: tuple[Sequence[float], Sequence[float]]) -> DecodeTrace:
        outs = [max(int(o), 1) for o in lengths[1]]
        cum: list[int] = []
        total = 0
        for o in outs:
            total += o
            cum.append(total)
        return cls(array("d", [float(v) for v in lengths[0]]), array("q", outs), array("q", cum))


def loop_source_hash() -> str | None:
    """sha256 of the decode loop's source and its Cython declarations, then the event heap's it shares
    (helix.placement.event_heap): what a compiled copy is built from (setup.py appends it to the copy)."""
    return source_hash(py_loop, ("decode_loop.py", "decode_loop.pxd", "event_heap.py", "event_heap.pxd"))


def compiled_core():
    """The compiled copy of :mod:`helix.placement.decode_loop` if one was built from this very source,
    else None."""
    return current_copy("helix.placement._decode_c", loop_source_hash())


def decode_core():
    """The loop :func:`replay_decode` runs: ``HELIX_REPLAY_CORE`` (the switch of both replays of the
    served estimate) = ``auto`` (default: the compiled copy when it is current, else the Python one),
    ``python`` or ``compiled`` (an error if there is none)."""
    return choose("HELIX_REPLAY_CORE", "decode replay", py_loop, compiled_core, "helix.placement._decode_c")


def replay_decode(
    nodes: Sequence[ReplayNode],
    arcs: Sequence[ReplayArc],
    n_requests: int,
    lengths: tuple[Sequence[float], Sequence[float]] | DecodeTrace,
    window: tuple[float, float],
    extra_prompt_rate: float = 0.0,
    seeds: Sequence[int] = (DECODE_SEED,),
) -> DecodeReplayResult:
    """Replay the decode loop of ``n_requests`` requests of the trace's ``lengths`` (inputs, outputs,
    or a :class:`DecodeTrace` of them) on ``nodes`` and ``arcs`` (module doc) up to ``window[1]``
    seconds and measure over ``window``; one run per seed of ``seeds``, averaged."""
    w0, w1 = window
    trace = lengths if isinstance(lengths, DecodeTrace) else DecodeTrace.of(lengths)
    out_arcs: dict[int, list[int]] = {}
    for a, arc in enumerate(arcs):
        if arc.share > 0:
            out_arcs.setdefault(arc.src, []).append(a)
    # every machine a route reaches must lead on (else no complete route: nothing decodes)
    seen, todo = {_SOURCE}, [_SOURCE]
    while todo:
        u = todo.pop()
        if u != _SINK and u not in out_arcs:
            return DecodeReplayResult(0.0, 0.0, 0.0)
        for a in out_arcs.get(u, ()):
            v = arcs[a].dst
            if v not in seen:
                seen.add(v)
                todo.append(v)
    n = len(nodes)
    dec: list[float] = []
    d_off: list[int] = []
    for nd in nodes:
        d_off.append(len(dec))
        dec += nd.dec
    senders = [out_arcs.get(u, []) for u in range(-1, n)]
    c_start = [0]
    for row in senders:
        c_start.append(c_start[-1] + len(row))
    layout = (
        array("d", [nd.k for nd in nodes]),
        array("d", dec),
        array("q", d_off),
        array("q", [len(nd.dec) for nd in nodes]),
        array("q", [nd.dm for nd in nodes]),
        array("d", [nd.copy for nd in nodes]),
        array("d", [nd.prompt for nd in nodes]),
        array("q", c_start),
        array("q", [a for row in senders for a in row]),
        array("q", [arc.dst for arc in arcs]),
        array("d", [arc.share for arc in arcs]),
        array("d", [1.0 / arc.share if arc.share > 0 else 0.0 for arc in arcs]),
        array("d", [arc.latency for arc in arcs]),
        array("d", [arc.token_send for arc in arcs]),
        array("d", [arc.prompt_send for arc in arcs]),
        trace.ins,
        trace.outs,
        trace.cum,
    )
    core = decode_core()
    done = area_dec = area_pr = 0.0
    for seed in seeds:  # the loop reads these arrays and keeps its state in its own
        d, a_dec, a_pr = core.run(
            *layout,
            int(n_requests),
            float(w0),
            float(w1),
            float(extra_prompt_rate),
            random.Random(seed),
            LAUNCH_DELAY,
        )
        done += d
        area_dec += a_dec
        area_pr += a_pr
    span = (w1 - w0) * len(seeds)
    return DecodeReplayResult(done / span, area_dec / span, area_pr / span)
