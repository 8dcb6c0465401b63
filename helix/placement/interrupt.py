"""SIGINT/SIGTERM during a solve: stop searching, keep the best layout, write it, exit cleanly.

The solvers poll ``STOP`` (the heuristic between moves, HiGHS/Gurobi through their interrupt
callbacks), so a Ctrl-C or a scheduler's SIGTERM ends the solve with its incumbent rather than a
traceback and no output.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

STOP = threading.Event()


@contextmanager
def stop_on_signals():
    """Route SIGINT/SIGTERM to ``STOP`` for the duration of the block (main thread only)."""
    STOP.clear()
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return

    def handler(signum, frame):
        STOP.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield STOP
    finally:
        for s, h in old.items():
            signal.signal(s, h)
