"""SIGINT/SIGTERM during a solve: stop searching, then either keep the best layout or fail.

The solvers poll ``STOP`` (the heuristic between moves, HiGHS/Gurobi through their interrupt
callbacks), so a Ctrl-C or a scheduler's SIGTERM ends the solve with its incumbent rather than a
traceback. What happens next depends on who asked for the placement:

- by hand (``helix place``): the best layout so far is written, marked ``interrupted`` in
  flow.json (``on_interrupt="keep"``);
- under a workflow (the placement rule, ``on_interrupt="fail"``): an interrupted solve must never
  become a complete output, or Snakemake would record the job as done and a rerun would keep a
  worse layout. The incumbent is saved beside the outputs (``.incumbent/``), no output is
  written, and the process exits 128 + signal number (:class:`Interrupted`), so Snakemake marks
  the job failed; the rerun of the same placement finds the incumbent and starts from it
  (:func:`resume_file`), and a finished run removes it.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

STOP = threading.Event()
# the signal that set STOP (0: none)
_RECEIVED = {"signum": 0}

INCUMBENT_DIR = ".incumbent"


class Interrupted(SystemExit):
    """A solve stopped by a signal under a workflow: exit 128 + signum, no outputs.

    A ``SystemExit`` so that no ``except Exception`` on the way (a script's error handler, a rule
    runner) turns it into a success or a traceback, and the process exit code tells Snakemake the
    job failed the way a killed process would.
    """

    def __init__(self, signum: int, message: str):
        self.signum = signum
        self.message = message
        super().__init__(128 + signum)


def received_signal() -> int:
    """The signal number that stopped the last solve (0 when none did)."""
    return _RECEIVED["signum"]


@contextmanager
def stop_on_signals():
    """Route SIGINT/SIGTERM to ``STOP`` for the duration of the block (main thread only)."""
    STOP.clear()
    _RECEIVED["signum"] = 0
    if threading.current_thread() is not threading.main_thread():
        yield STOP
        return

    def handler(signum, frame):
        _RECEIVED["signum"] = signum
        STOP.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield STOP
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def incumbent_dir(out_dir: str | Path) -> Path:
    return Path(out_dir) / INCUMBENT_DIR


def save_incumbent(out_dir: str | Path, layout, cluster, key: dict, objective: float) -> Path:
    """Keep an interrupted solve's best layout where the rerun of the same placement finds it."""
    from helix.io import write_json

    d = incumbent_dir(out_dir)
    layout.save(d / "layout.yaml", cluster)
    write_json(d / "resume.json", {**key, "objective": objective})
    return d / "layout.yaml"


def resume_file(out_dir: str | Path, key: dict, cluster, num_layers: int, capacity) -> Path | None:
    """The saved incumbent of this placement (same cluster, model, method), when it still fits.

    ``capacity(i)`` is machine i's layer limit K_i under the current settings; an incumbent that
    no longer fits them (another cluster file, other profiles) is ignored, never an error: it is
    only a warm start.
    """
    from helix.errors import HelixInputError
    from helix.layout import Layout

    d = incumbent_dir(out_dir)
    try:
        saved = json.loads((d / "resume.json").read_text())
        if any(saved.get(k) != v for k, v in key.items()):
            return None
        layout = Layout.load(d / "layout.yaml", cluster)
    except (OSError, ValueError, HelixInputError):
        return None
    if layout.num_layers != num_layers:
        return None
    for i, m in enumerate(cluster.machines):
        r = layout.ranges.get(m.name)
        if r is not None and r[1] - r[0] > capacity(i):
            return None
    return d / "layout.yaml"


def clear_incumbent(out_dir: str | Path) -> None:
    shutil.rmtree(incumbent_dir(out_dir), ignore_errors=True)
