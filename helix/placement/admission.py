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

The event loop itself is :mod:`helix.placement.replay_loop` (plain Python, the reference), or its
compiled copy ``helix.placement._replay_c`` when ``setup.py`` built one from the same source (Cython,
the same steps on the same numbers: :func:`replay_core`). With it a replay costs about 1-10 ms on
the validation's layouts (the Python loop 20-550 ms); the estimate that uses it, the validation's
(``helix.planning.validation.validation_model``), costs more than that: the scheduler's routing and
two fixed points (``benchmarks/served.py``; docs/served.md, "Validation").
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from helix.compiled import choose, current_copy, source_hash
from helix.placement import replay_loop as py_loop

LAUNCH_DELAY = 0.1  # s from a trigger to its launch (helix/workload/offline.py; a test keeps them equal)
REPLAY_SEED = 20251129  # the replay's draws of (input, output) pairs from the trace
# the steady window, in mean request lifetimes (prompt latency + mean output x round trip), after the
# first time the feeder or the router turns a launch down
REPLAY_SETTLE = 1.0
REPLAY_SPAN = 3.0
REPLAY_MAX_LAUNCHES = 60_000  # a guard on the cost (reached only by layouts of thousands in flight)


def loop_source_hash() -> str | None:
    """sha256 of the replay loop's source and its Cython declarations, then the event heap's it shares
    (helix.placement.event_heap): what a compiled copy is built from (setup.py appends it to the copy)."""
    return source_hash(py_loop, ("replay_loop.py", "replay_loop.pxd", "event_heap.py", "event_heap.pxd"))


def compiled_core():
    """The compiled copy of :mod:`helix.placement.replay_loop` if one was built from this very source,
    else None."""
    return current_copy("helix.placement._replay_c", loop_source_hash())


def replay_core():
    """The loop :func:`replay` runs: ``HELIX_REPLAY_CORE`` = ``auto`` (default: the compiled copy when
    it is current, else the Python one), ``python`` or ``compiled`` (an error if there is none)."""
    return choose(
        "HELIX_REPLAY_CORE", "admission replay", py_loop, compiled_core, "helix.placement._replay_c"
    )


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
    k = [int(v) for v in node_k]
    cap = [float(c) for c in node_cap]
    floor = [(1.0 - kv_hwm) * c for c in cap]
    # feeder groups: free = sum avail / k over members, usage = 1 - free / total; a launch needs every
    # group's free share at or above 1 - feed_hwm (groups of no capacity never bind)
    g_tot = [sum(cap[u] / k[u] for u in g) for g in holder_groups]
    limit = 1.0 - feed_hwm
    g_thr = [limit * t if t > 0 else -math.inf for t in g_tot]
    # candidate links per sender (the source -1 first), in the scheduler's link order
    by_sender: list[list[int]] = [[] for _ in range(n_nodes + 1)]
    for j, (a, _, _) in enumerate(links):
        by_sender[a + 1].append(j)
    res = replay_core().run(
        array("q", k),
        array("d", cap),
        array("d", floor),
        array("d", g_tot),
        array("d", g_thr),
        array("q", _offsets(by_sender)),
        array("q", [j for row in by_sender for j in row]),
        array("q", [b for _, b, _ in links]),
        array("d", [1.0 / f for _, _, f in links]),
        array("d", [c[0] for c in node_cost]),
        array("d", [c[1] for c in node_cost]),
        array("d", [c[0] for c in link_cost]),
        array("d", [c[1] for c in link_cost]),
        np.ascontiguousarray(inputs, dtype=float),
        np.ascontiguousarray(outputs, dtype=float),
        np.random.default_rng(REPLAY_SEED),
        float(kv_extra),
        int(n_init),
        LAUNCH_DELAY,
        REPLAY_SETTLE,
        REPLAY_SPAN,
        REPLAY_MAX_LAUNCHES,
    )
    return ReplayResult(*res)


def _offsets(rows: Sequence[Sequence[int]]) -> list[int]:
    """CSR row starts of ``rows`` and the end (len(rows) + 1 entries)."""
    out = [0]
    for r in rows:
        out.append(out[-1] + len(r))
    return out
