"""The one way every script in scripts/ runs: the rule's log gets everything, bad input is one line.

A Snakemake job on a cluster leaves behind its ``log:`` file and little else, so everything a
script says goes there: its own lines, ``logging`` records, progress and warnings written to
stdout/stderr (tee'd, so an interactive run still shows them) and, for a job that fails, the
traceback. A :class:`~helix.errors.HelixInputError` is the user's mistake, not a crash: it ends the
job with the error's one line, in the log and on stderr, and exit code 1 (no traceback). The log
starts with one provenance line (helix version, git revision), written here and nowhere else.

Usage, the whole body of a script::

    from helix.runner import rule_log
    with rule_log(snakemake) as log:
        library_call(...)
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import traceback
from collections.abc import Iterator
from typing import TextIO

from helix.errors import HelixInputError, HelixRunError
from helix.provenance import git_revision, versions

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _Tee:
    """A text stream that writes to the log and to the stream it replaces."""

    def __init__(self, log: TextIO, other: TextIO):
        self._log, self._other = log, other

    def write(self, text: str) -> int:
        self._log.write(text)
        try:
            self._other.write(text)
        except (OSError, ValueError):  # a closed terminal must not fail the job
            pass
        return len(text)

    def flush(self) -> None:
        self._log.flush()
        with contextlib.suppress(OSError, ValueError):
            self._other.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):  # encoding, errors, fileno ... of the original stream
        return getattr(self._other, name)


def provenance_line(rule: str | None) -> str:
    version = versions(["helix-workflow"])["helix-workflow"]
    rev = git_revision() or "unknown"
    return f"# rule {rule or '?'}: helix-workflow {version}, git {rev}, python {platform.python_version()}"


@contextlib.contextmanager
def rule_log(sm, expected: tuple[type[BaseException], ...] = ()) -> Iterator[TextIO]:
    """Run a script body with its output in the rule's log (``sm.log[0]``; none: stderr only).

    ``expected`` are further exception types that mean "cannot run" rather than "bug" (e.g. a
    prototype worker that does not start): like HelixInputError they end in one line, exit 1.
    """
    path = sm.log[0] if len(sm.log) else None
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    log: TextIO = open(path, "w", buffering=1) if path else open(os.devnull, "w")  # noqa: SIM115
    saved = sys.stdout, sys.stderr
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    level = root.level
    try:
        print(provenance_line(getattr(sm, "rule", None)), file=log)
        sys.stdout, sys.stderr = _Tee(log, saved[0]), _Tee(log, saved[1])
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        try:
            yield log
        except (HelixInputError, HelixRunError, *expected) as exc:
            msg = exc.one_line() if isinstance(exc, (HelixInputError, HelixRunError)) else str(exc)
            sys.stdout, sys.stderr = saved
            print(f"error: {msg}", file=log)
            raise SystemExit(f"error: {msg}") from None
        except KeyboardInterrupt:
            print("interrupted\n" + traceback.format_exc(), file=log, end="")
            raise
        except SystemExit as exc:
            if exc.code not in (None, 0):
                print(f"exit: {exc.code}", file=log)
            raise
        except BaseException:
            print(traceback.format_exc(), file=log, end="")
            raise
    finally:
        sys.stdout, sys.stderr = saved
        root.removeHandler(handler)
        root.setLevel(level)
        log.close()
