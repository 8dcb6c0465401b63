"""Start a process that a test will Ctrl-C as if it had been started from a terminal.

A command started in the background by a shell without job control (``cmd &`` in a script, under
nohup or a CI runner) inherits SIGINT as *ignored*, and an ignored signal stays ignored across fork
and exec. Python then installs no KeyboardInterrupt handler, so a Snakemake started by such a pytest
ignores the SIGINT a test sends it (and so do its jobs): the job runs to its end and the test hangs.
That is what made the SIGINT tests fail only in some CI runs. A handler that is *caught* is reset
to the default on exec, so setting Python's own handler around the spawn gives the child exactly the
disposition a terminal gives it, whatever the test runner inherited.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigint_as_in_a_terminal() -> Iterator[None]:
    """Processes started inside this block get SIGINT at its default action (Ctrl-C stops them)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # set outside Python: caught (so reset on exec) or unknown; leave it
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
