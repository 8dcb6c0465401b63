"""Independent jobs in worker processes, their results gathered in the jobs' order.

Why: the planner's budget is counted work on two cores (docs/served.md), and its most costly
steps, annealing lanes and simulations of candidate layouts, are independent of each other once
seeded. Run in ``workers`` forked processes they return exactly what they return one after the
other (each job is a pure function of its inputs and its seed; results come back in the order of
``jobs``, never of completion), so a layout does not depend on how many cores ran it.

Each job runs in a forked process of its own (at most ``workers`` at a time) and sends its result
back over a pipe of its own. Why not ``multiprocessing.Pool``: its workers share one task queue
guarded by a lock that an idle worker holds while it waits for a task, and a worker killed there
(Snakemake cancels a job with SIGTERM to its whole process group) takes the lock with it, so the
pool's ``terminate`` waits on it forever. Here nothing is shared between the processes: a stop or
a failure kills the jobs still running (SIGKILL) and joins them.

Forked workers inherit the jobs (closures need no pickling); only the results travel back, so
they must pickle. Where ``fork`` is missing, or inside a worker (daemonic processes have no
children), the jobs run in this process.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
import pickle
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.2  # how often a waiting parent checks ``stop``
_JOBS: list[Callable[[], object]] = []  # the jobs of the running map, inherited by its forked workers


class WorkerError(RuntimeError):
    """A job failed in a worker with an exception that does not pickle; its traceback is the message."""


def _child(q: int, conn) -> None:
    """A worker: job ``q``'s ``(ok, result or exception)`` down ``conn``."""
    _worker_signals()
    try:
        msg = (True, _JOBS[q]())
    except Exception as exc:  # re-raised in the parent: as itself where it pickles
        try:
            pickle.dumps(exc)
            msg = (False, exc)
        except Exception:
            msg = (False, WorkerError(traceback.format_exc()))
    try:
        conn.send(msg)
    except Exception:  # the result does not pickle
        conn.send((False, WorkerError(f"job {q}: its result cannot be sent back\n{traceback.format_exc()}")))
    conn.close()


def _worker_signals() -> None:
    """A worker's signals: the parent's handlers (helix.placement.interrupt turns SIGTERM and
    SIGINT into a stop flag) would keep a worker alive after the signal that ends the job. So
    SIGTERM kills a worker again, and SIGINT, which reaches the whole process group, is the
    parent's to act on (it kills the workers)."""
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
    ctx = mp.get_context("fork")
    running: dict[int, tuple] = {}  # job -> (process, read end of its pipe)
    finished: dict[int, T] = {}
    out: list[T] = []
    nxt = 0
    try:
        while len(out) < len(jobs) and not stopped():
            while nxt < len(jobs) and len(running) < workers:
                r, w = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(nxt, w), daemon=True)
                proc.start()
                w.close()
                running[nxt] = (proc, r)
                nxt += 1
            ready = set(mp_connection.wait([r for _, r in running.values()], timeout=POLL_S))
            for q in sorted(running):
                proc, r = running[q]
                if r not in ready:
                    continue
                try:
                    ok, value = r.recv()
                except EOFError:  # the worker died before it answered (killed, or out of memory)
                    proc.join()
                    if proc.exitcode is not None and proc.exitcode < 0:
                        time.sleep(POLL_S)  # a signal to the whole job: the parent's handler sets stop
                    if stopped():
                        break
                    ok, value = False, WorkerError(f"job {q}: its worker died (exit code {proc.exitcode})")
                proc.join()
                r.close()
                del running[q]
                if not ok:
                    raise value
                finished[q] = value
            while len(out) in finished:
                out.append(finished.pop(len(out)))
    finally:
        for proc, _ in running.values():
            proc.kill()  # stopped or failed: the jobs still running end here
        for proc, r in running.values():
            proc.join()
            r.close()
        _JOBS = previous
    return out
