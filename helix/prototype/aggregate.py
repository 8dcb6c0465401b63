"""One result for a run split into sub-clusters: the parts' logs side by side (docs/design/prototype.md s8).

The parent run's ``events.csv`` / ``routes.csv`` / ``tokens.csv`` are the parts' files stacked
with a trailing ``part`` column (the sub-cluster name); the parser treats each part as its own log,
so throughputs add up per part (each with its own span) and latency samples are pooled.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from helix.errors import HelixInputError
from helix.io import write_json, write_text


def _stack(paths: dict[str, Path]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = None
    for part, path in paths.items():
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            raise HelixInputError(path, None, "empty file")
        if header is None:
            header = rows[0]
            w.writerow(header + ["part"])
        elif rows[0] != header:
            raise HelixInputError(path, "header", f"differs from the other parts' {header}", rows[0])
        w.writerows(r + [part] for r in rows[1:])
    return buf.getvalue()


def aggregate_parts(
    parts: dict[str, dict[str, str | Path]], out: dict[str, str | Path], warmup_s: float, end_s: float
) -> dict:
    """``parts``: part name -> {"events", "routes", "tokens"} paths; writes ``out``'s four files."""
    from helix.prototype.logparse import parse_logs

    for key in ("events", "routes", "tokens"):
        write_text(out[key], _stack({name: Path(p[key]) for name, p in parts.items()}))
    metrics = parse_logs([out["events"]], warmup_s=warmup_s, end_s=end_s)
    write_json(out["metrics"], metrics)
    return metrics
