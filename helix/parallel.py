"""Independent jobs in worker processes, their results gathered in the jobs' order.

Why: the planner's budget is counted work on two cores (docs/served.md), and its most costly
steps, annealing lanes and simulations of candidate layouts, are independent of each other once
seeded. Run in ``workers`` forked processes they return exactly what they return one after the
other (each job is a pure function of its inputs and its seed; results come back in the order of
``jobs``, never of completion), so a layout does not depend on how many cores ran it.

Forked workers inherit the jobs (closures need no pickling); only the results travel back, so
they must pickle. Where ``fork`` is missing, or inside a worker (daemonic processes have no
children), the jobs run in this process.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import signal
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.2  # how often a waiting parent checks ``stop``
_JOBS: list[Callable[[], object]] = []  # the jobs of the running map, inherited by its forked workers


class WorkerError(RuntimeError):
    """A job failed in a worker with an exception that does not pickle; its traceback is the message."""


def _run(q: int):
    try:
        return True, _JOBS[q]()
    except Exception as exc:  # re-raised in the parent: as itself where it pickles
        try:
            pickle.dumps(exc)
            return False, exc
        except Exception:
            return False, WorkerError(traceback.format_exc())


def _worker_signals() -> None:
    """A worker's signals: the parent's handlers (helix.placement.interrupt turns SIGTERM and
    SIGINT into a stop flag) would keep a worker alive when its pool terminates it. So SIGTERM
    kills a worker again, and SIGINT, which reaches the whole process group, is the parent's to
    act on (it ends the pool)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def can_fork() -> bool:
    """Whether :func:`ordered_map` can use worker processes here."""
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def ordered_map(
    jobs: Sequence[Callable[[], T]], workers: int, stop: Callable[[], bool] | None = None
) -> list[T]:
    """``[job() for job in jobs]``, in up to ``workers`` processes.

    ``stop`` (polled between jobs, and every POLL_S while waiting): once true, no further job
    starts and the results of the jobs finished in order so far are returned (a prefix of the
    list), as the sequential loop ``for job in jobs: if stop(): break`` would."""
    global _JOBS
    jobs = list(jobs)
    stopped = stop or (lambda: False)
    if workers <= 1 or len(jobs) <= 1 or not can_fork():
        out = []
        for job in jobs:
            if stopped():
                break
            out.append(job())
        return out
    previous, _JOBS = _JOBS, jobs
    out = []
    try:
        pool = mp.get_context("fork").Pool(min(workers, len(jobs)), initializer=_worker_signals)
        try:
            it = pool.imap(_run, range(len(jobs)), chunksize=1)
            while len(out) < len(jobs) and not stopped():
                try:
                    ok, value = it.next(timeout=POLL_S)
                except mp.TimeoutError:
                    continue
                if not ok:
                    raise value
                out.append(value)
        finally:
            if len(out) == len(jobs):
                pool.close()  # every job done: the workers leave on their own
            else:
                pool.terminate()  # stopped or failed: the jobs still running end here
            pool.join()
    finally:
        _JOBS = previous
    return out
