"""The event heap the served estimate's two replay loops share (helix.placement.event_heap): each
Python loop runs its code on its own module state (the compiled copies have it pasted in, setup.py;
tests/test_served_admission.py and test_served_decode.py compare them with these loops)."""

from __future__ import annotations

import heapq
from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from helix.placement import decode_loop, replay_loop


def _fill(loop, events):
    """Push ``events`` (time, event), sequence numbers in order, on a fresh heap of ``loop``."""
    cap = len(events) + 1
    loop._ht, loop._hs, loop._he = array("d", [0.0] * cap), array("q", [0] * cap), array("q", [0] * cap)
    for q, (t, e) in enumerate(events):
        loop.heap_push(q, t, q, e)


def _pop_all(loop, n):
    out = []
    for left in range(n, 0, -1):
        out.append((loop._ht[0], loop._hs[0], loop._he[0]))
        loop.heap_drop(left)
    return out


def _heapq(events):
    ref = []
    for q, (t, e) in enumerate(events):
        heapq.heappush(ref, (t, q, e))
    return [heapq.heappop(ref) for _ in events]


times = st.sampled_from([0.0, 0.5, 1.0, 2.5])  # ties: the sequence number decides


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.tuples(times, st.integers(-1, 50)), max_size=40),
    b=st.lists(st.tuples(times, st.integers(-1, 50)), max_size=40),
)
def test_each_loop_pops_its_own_events_as_heapq(a, b):
    """Both loops' heaps filled, then drained one after the other: each pops its own events in
    heapq's order of (time, sequence number)."""
    _fill(replay_loop, a)
    _fill(decode_loop, b)
    assert _pop_all(replay_loop, len(a)) == _heapq(a)
    assert _pop_all(decode_loop, len(b)) == _heapq(b)


def test_the_loops_run_the_heap_on_their_own_module_state():
    for loop in (replay_loop, decode_loop):
        assert loop.heap_push.__globals__ is vars(loop) and loop.heap_drop.__globals__ is vars(loop)
