"""The body of every figure and table script: render the spec, log, fail in one line.

Kept in the library (not in scripts/) so that the scripts stay three lines and the behaviour on
bad input (one-line error naming the file and field, non-zero exit, no output) is tested once.
"""

from __future__ import annotations

import sys
import warnings

from helix.errors import HelixInputError
from helix.figures import render


def run(sm, expect_kind: str) -> None:
    """Render ``sm.params.spec`` into ``sm.output``; errors go to the log and to stderr."""
    spec = sm.params.spec
    with open(sm.log[0], "w") as log:
        if spec["kind"] != expect_kind:
            msg = f"error: figure spec of kind {spec['kind']!r} given to the {expect_kind} script"
            print(msg, file=log)
            sys.exit(msg)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                render(spec, list(sm.output))
            for w in caught:
                print(f"warning: {w.message}", file=log)
            print(f"wrote {', '.join(sm.output)} from {len(sm.input)} input files", file=log)
        except HelixInputError as exc:
            print(f"error: {exc.one_line()}", file=log)
            sys.exit(f"error: {exc.one_line()}")
