"""The body of every figure and table script: render the spec into the rule's outputs.

Kept in the library (not in scripts/) so the scripts stay three lines; logging, the one-line error
on bad input and the non-zero exit are the rule runner's (helix.runner).
"""

from __future__ import annotations

from helix.errors import HelixInputError
from helix.figures import render
from helix.runner import rule_log


def run(sm, expect_kind: str) -> None:
    """Render ``sm.params.spec`` into ``sm.output``, logging to the rule's log."""
    spec = sm.params.spec
    with rule_log(sm) as log:
        if spec["kind"] != expect_kind:
            raise HelixInputError(None, None, f"figure spec of kind {spec['kind']!r} given to the {expect_kind} script")
        render(spec, list(sm.output))
        print(f"wrote {', '.join(sm.output)} from {len(sm.input)} input files", file=log)
