"""Measured profile input: the checks a measurement must pass before it enters the project.

A garbled measurement (swapped columns, wrong units, a reversed file) fails here with the file, row
and value; the artifact's own measurement noise passes (``MONOTONE_REL_TOL``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from helix.errors import HelixInputError
from helix.profiles.store import LayerProfile, read_project_table

# Monotonicity check of measured input: a point more than this far below the running maximum is an
# error (catches swapped columns, wrong units, reversed files) while the artifact's measurement noise
# (e.g. llama2_70b/v100 decode 7.0 ms at 80 tokens, 4.5 ms at 90) passes.
MONOTONE_REL_TOL = 0.5


def check_times(
    source: str | Path | None,
    tokens: Iterable[float],
    seconds: Iterable[float],
    rel_tol: float = MONOTONE_REL_TOL,
) -> None:
    """Reject negative, non-finite or clearly non-monotone times with a one-line error."""
    run_max = 0.0
    for i, (x, y) in enumerate(zip(tokens, seconds)):
        if not math.isfinite(y) or y < 0:
            raise HelixInputError(source, f"row {i + 1}", "time must be a finite non-negative number", y)
        if y < (1 - rel_tol) * run_max:
            raise HelixInputError(
                source,
                f"row {i + 1}",
                f"times are not monotone in tokens ({y!r} s at {x} tokens after {run_max!r} s)",
                y,
            )
        run_max = max(run_max, y)


def read_measured(directory: str | Path, model: str, gpu: str) -> LayerProfile:
    """A measured profile directory (prompt.csv, decode.csv, meta.json) checked by ``check_times``.

    Used where a measurement enters the project's profiles (the what-if rule copies committed
    measurements); a garbled file fails here with the file, row and value.
    """
    d = Path(directory)
    tables = {}
    for phase in ("prompt", "decode"):
        table = read_project_table(d / f"{phase}.csv")
        check_times(d / f"{phase}.csv", table.tokens, table.seconds)
        tables[phase] = table
    meta_path = d / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HelixInputError(meta_path, None, f"unreadable meta.json: {exc}") from None
    if not isinstance(meta, dict) or meta.get("source") != "measured":
        raise HelixInputError(
            meta_path,
            "source",
            "a measured profile must say source: measured",
            meta.get("source") if isinstance(meta, dict) else meta,
        )
    meta = {k: v for k, v in meta.items() if k not in ("model", "gpu")}
    return LayerProfile(model, gpu, tables["prompt"], tables["decode"], meta)
