"""One error type for bad input, so every entry point can print one line and exit non-zero.

Users meet these messages first when a config is wrong, so each one names the file, the field and
the offending value instead of surfacing a traceback from deep inside the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


_LINE_BREAKS = {c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class HelixInputError(ValueError):
    """Bad user input: a malformed config, cluster, layout, profile or artifact path."""

    def __init__(self, source: str | Path | None, field: str | None, message: str, value: Any = ...):
        self.source = str(source) if source is not None else None
        self.field = field
        self.value = value
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = []
        if self.source:
            parts.append(self.source)
        if self.field:
            parts.append(self.field)
        head = ": ".join(parts)
        text = self.message if self.value is ... else f"{self.message} (got {self.value!r})"
        line = f"{head}: {text}" if head else text
        # one line whatever the input held (a key or value with a line break in it: every character
        # str.splitlines() breaks on, escaped)
        return "".join(_LINE_BREAKS.get(c, c) for c in line)


class PlacementError(HelixInputError):
    """A placement that cannot exist: model does not fit, no complete route, infeasible settings."""


class HelixRunError(RuntimeError):
    """A run that stopped because the modelled system broke a hard limit (e.g. a simulated KV cache
    overflowing under the configured rate): the inputs were valid, the combination does not fit.
    Entry points report it like bad input: one line, non-zero exit."""

    def __init__(self, source: str | None, message: str):
        self.source = source
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message
