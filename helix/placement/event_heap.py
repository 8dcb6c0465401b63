"""The event heap of the served estimate's event loops (helix.placement.replay_loop, decode_loop).

Parallel arrays of (time, sequence number, event), a min-heap on (time, seq). Sequence numbers are
unique, so events pop in the order of their keys whatever the heap's layout (as heapq on
(time, seq, ...) tuples).

One source for both loops, each with its own heap: the functions work on the module state ``_ht``,
``_hs``, ``_he`` of the loop that calls them (set by its ``run``; module state, so that a compiled
copy hands them no array: a typed memoryview is a struct passed by value). The Python loops take
copies of them bound to their own module (:func:`bound_to`); ``setup.py`` pastes the code below
the line ``# ---- setup.py pastes ...`` in place of that call in each loop's compiled copy, and
``event_heap.pxd`` into its declarations, so a compiled loop calls them directly, as if written
there. The hash a compiled loop carries covers this module too: editing it marks both builds stale.
"""

from __future__ import annotations

import types

_ht = _hs = _he = None  # never used here: the functions run on the arrays of the loop they serve


def bound_to(namespace: dict) -> tuple:
    """(:func:`heap_push`, :func:`heap_drop`) working on the heap arrays of ``namespace`` (the
    ``globals()`` of the loop module that calls them)."""
    return tuple(types.FunctionType(f.__code__, namespace, f.__name__) for f in (heap_push, heap_drop))


# ---- setup.py pastes what follows into the compiled loops


def heap_push(n, t, s, e):
    """Add (t, s, e) to the heap of ``n`` events (the arrays have room for one more)."""
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if _ht[p] < t or (_ht[p] == t and _hs[p] < s):
            break
        _ht[i] = _ht[p]
        _hs[i] = _hs[p]
        _he[i] = _he[p]
        i = p
    _ht[i] = t
    _hs[i] = s
    _he[i] = e


def heap_drop(n):
    """Remove the first event of the heap of ``n`` events."""
    n -= 1
    if n == 0:
        return
    t = _ht[n]
    s = _hs[n]
    e = _he[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (_ht[c + 1] < _ht[c] or (_ht[c + 1] == _ht[c] and _hs[c + 1] < _hs[c])):
            c += 1
        if t < _ht[c] or (t == _ht[c] and s < _hs[c]):
            break
        _ht[i] = _ht[c]
        _hs[i] = _hs[c]
        _he[i] = _he[c]
        i = c
    _ht[i] = t
    _hs[i] = s
    _he[i] = e
