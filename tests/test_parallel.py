"""helix.parallel.ordered_map: jobs in worker processes give what they give one after the other,
in the jobs' order, and ``stop`` ends the map at a prefix."""

from __future__ import annotations

import os
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helix.parallel import can_fork, ordered_map

needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork start method here")


def _seeded(seed: int, n: int):
    def job():
        rng = random.Random(seed)
        return seed, [rng.random() for _ in range(n)]

    return job


@needs_fork
@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2000)), min_size=0, max_size=7))
def test_workers_return_the_sequential_results_in_order(specs):
    jobs = [_seeded(s, n) for s, n in specs]
    assert ordered_map(jobs, 2) == ordered_map(jobs, 1) == [job() for job in jobs]


@needs_fork
def test_jobs_run_in_other_processes_and_come_back_in_order_not_completion():
    # the first job is the slowest: results must still come in the jobs' order
    def job(q, pause):
        def run():
            time.sleep(pause)
            return q, os.getpid()

        return run

    out = ordered_map([job(0, 0.4), job(1, 0.0), job(2, 0.0)], 2)
    assert [q for q, _ in out] == [0, 1, 2]
    assert all(pid != os.getpid() for _, pid in out)


@needs_fork
def test_a_failing_job_raises_in_the_parent():
    def bad():
        raise ValueError("job 1 failed")

    with pytest.raises(ValueError, match="job 1 failed"):
        ordered_map([lambda: 0, bad, lambda: 2], 2)


@pytest.mark.parametrize("workers", [1, 2])
def test_stop_returns_the_prefix_finished_before_it(workers):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 1  # true from the second poll on

    def slow():
        time.sleep(0.5)
        return "late"

    out = ordered_map([lambda: "first", slow, slow, slow], workers, stop=stop)
    assert out == ["first"][: len(out)] and len(out) <= 1


@needs_fork
def test_the_pool_ends_under_the_planners_signal_handlers():
    """helix.placement.interrupt turns SIGTERM into a stop flag; forked workers inherit that
    handler, and a pool whose workers ignore its SIGTERM never ends. Run in a child process, so
    that a hang is a failed test, not a stuck suite."""
    import subprocess
    import sys

    code = (
        "from helix.parallel import ordered_map\n"
        "from helix.placement.interrupt import stop_on_signals\n"
        "with stop_on_signals():\n"
        "    for _ in range(3):\n"
        "        assert ordered_map([lambda q=q: q * q for q in range(5)], 2) == [0, 1, 4, 9, 16]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


@needs_fork
def test_a_worker_that_dies_is_an_error_not_a_hang():
    import signal

    from helix.parallel import WorkerError

    def dies():
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(WorkerError, match="job 1: its worker died"):
        ordered_map([lambda: 0, dies, lambda: 2], 2)


@needs_fork
@pytest.mark.parametrize("delay", [0.05, 1.0])
def test_a_signal_to_the_whole_job_ends_the_map(delay):
    """Snakemake cancels a job with SIGTERM to its process group: the workers die of it, the
    parent's handler sets STOP, and a map polling STOP returns what finished (here nothing)
    instead of waiting for results that will never come, also when the signal comes while the
    workers start (a pool whose killed worker held its queue's lock hung here). In a child
    process of its own group."""
    import subprocess
    import sys

    code = (
        "import os, signal, threading, time\n"
        "from helix.parallel import ordered_map\n"
        "from helix.placement.interrupt import STOP, stop_on_signals\n"
        "jobs = [lambda: time.sleep(60) for _ in range(4)]\n"
        "with stop_on_signals():\n"
        f"    threading.Timer({delay}, lambda: os.killpg(os.getpgid(0), signal.SIGTERM)).start()\n"
        "    out = ordered_map(jobs, 2, stop=STOP.is_set)\n"
        "print('done', len(out), STOP.is_set())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, start_new_session=True
    )
    assert out.stdout.split() == ["done", "0", "True"], out.stderr
