"""Read prototype event logs (the paper's ``events.txt`` and our ``events.csv``) into metrics.

The parser only *pairs* events into latency samples (docs/design/prototype.md s8 step 1); the metric
arithmetic (window, percentile rule, throughput divisor, sub-cluster pooling) is the one shared
function of ``helix.metrics``, so simulator and prototype figures cannot drift apart.

Pairing: a prompt's ``out``/``in`` pair by request id, a decode's by (request id, context length);
a pair is stamped with its ``in`` time. Decode throughput counts every decode ``in`` (paired or
not) inside the window and divides by the span between the first and the last of them (+1e-6), the
prototype parser's rule (the simulator divides by the nominal window instead).
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from helix.errors import HelixInputError

# Paper defaults (docs/design/prototype.md s8): warm-up 60 s (200 s for LLaMA-70B online), end 300 s.
DEFAULT_WARMUP_S = 60.0
DEFAULT_END_S = 300.0
EVENT_COLUMNS = ["time", "request_id", "direction", "phase", "context_len", "tokens"]


@dataclass
class Events:
    """One log as columns. ``direction`` is 'out' | 'in' | 'fail' (ours only)."""

    source: str
    time: np.ndarray
    rid: np.ndarray
    direction: np.ndarray
    phase: np.ndarray
    context: np.ndarray
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    part: np.ndarray | None = None  # sub-cluster of each event (aggregated runs' events.csv)

    def __len__(self) -> int:
        return len(self.time)

    def split_parts(self) -> list["Events"]:
        """One Events per sub-cluster (first-seen order); itself when it has no parts."""
        if self.part is None:
            return [self]
        names = list(dict.fromkeys(self.part.tolist()))
        out = []
        for name in names:
            m = self.part == name
            out.append(
                Events(
                    f"{self.source}#{name}",
                    self.time[m],
                    self.rid[m],
                    self.direction[m],
                    self.phase[m],
                    self.context[m],
                    self.tokens[m],
                )
            )
        return out


def _columns(source: str, rows: list[tuple]) -> Events:
    if not rows:
        z = np.zeros(0)
        return Events(
            source,
            z,
            z.astype(np.int64),
            z.astype(str),
            z.astype(str),
            z.astype(np.int64),
            z.astype(np.int64),
        )
    t, r, d, p, c, n = zip(*rows)
    return Events(
        source,
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.int64),
        np.asarray(d),
        np.asarray(p),
        np.asarray(c, dtype=np.int64),
        np.asarray(n, dtype=np.int64),
    )


def _check(path: Path, lineno: int, row: tuple) -> tuple:
    def bad() -> HelixInputError:  # built only for a bad row: formatting it costs more than the check
        return HelixInputError(
            path,
            f"line {lineno}",
            "not an event (t, id, 'out'|'in', 'prompt'|'decode', context, tokens)",
            row,
        )

    if len(row) != 6 or row[2] not in ("out", "in", "fail") or row[3] not in ("prompt", "decode"):
        raise bad()
    try:
        out = float(row[0]), int(row[1]), row[2], row[3], int(row[4]), int(row[5])
    except (TypeError, ValueError, OverflowError):
        raise bad() from None
    if not np.isfinite(out[0]):
        raise bad()
    return out


def read_events_txt(path: str | Path) -> Events:
    """The paper's format: one Python tuple literal per line (never eval'd: split, else literal_eval)."""
    path = Path(path)
    rows = []
    with open(path, errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            parts = line[1:-1].split(", ") if line[0] == "(" and line[-1] == ")" else []
            try:
                if len(parts) == 6:
                    row = (
                        float(parts[0]),
                        int(parts[1]),
                        parts[2].strip("'\""),
                        parts[3].strip("'\""),
                        int(parts[4]),
                        int(parts[5]),
                    )
                else:
                    row = tuple(ast.literal_eval(line))
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                raise HelixInputError(path, f"line {lineno}", "cannot parse event", line[:80]) from None
            rows.append(_check(path, lineno, row))
    return _columns(str(path), rows)


def read_events_csv(path: str | Path) -> Events:
    """Our format: CSV with header ``time,request_id,direction,phase,context_len,tokens`` and, for a
    run aggregated from sub-clusters, a trailing ``part`` column."""
    path = Path(path)
    try:
        return _read_events_csv(path)
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise HelixInputError(path, None, f"not a valid CSV event log: {exc}") from None


def _read_events_csv(path: Path) -> Events:
    rows, parts = [], []
    with open(path, newline="", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header not in (EVENT_COLUMNS, EVENT_COLUMNS + ["part"]):
            raise HelixInputError(path, "header", f"expected {','.join(EVENT_COLUMNS)}[,part]", header)
        width = len(header)
        for lineno, rec in enumerate(reader, 2):
            try:
                if len(rec) != width:
                    raise ValueError
                rows.append(
                    _check(
                        path, lineno, (float(rec[0]), int(rec[1]), rec[2], rec[3], int(rec[4]), int(rec[5]))
                    )
                )
            except HelixInputError:
                raise
            except (ValueError, IndexError, OverflowError):
                raise HelixInputError(path, f"line {lineno}", "cannot parse event", rec) from None
            if width == 7:
                parts.append(rec[6])
    ev = _columns(str(path), rows)
    if width == 7:
        ev.part = np.asarray(parts, dtype=str)
    return ev


def read_events(path: str | Path) -> Events:
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "event log not found")
    return read_events_csv(path) if path.suffix == ".csv" else read_events_txt(path)


def write_events_csv(path: str | Path, rows: list[tuple]) -> None:
    from helix.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(EVENT_COLUMNS)
        for t, rid, d, p, c, n in rows:
            w.writerow([f"{t:.6f}", rid, d, p, c, n])


@dataclass
class Samples:
    """Latency samples (finish time, latency) per phase, and every decode arrival time."""

    prompt: np.ndarray  # [n, 2]
    decode: np.ndarray  # [n, 2]
    decode_in: np.ndarray  # [m]
    failed: int = 0


def pair(ev: Events) -> Samples:
    """docs/design/prototype.md s8 step 1: pair 'out'/'in' lines; stamp each pair with its 'in' time."""
    outs: dict[tuple, float] = {}
    ins: dict[tuple, float] = {}
    decode_in = []
    failed = set()
    for t, r, d, p, c in zip(
        ev.time.tolist(), ev.rid.tolist(), ev.direction.tolist(), ev.phase.tolist(), ev.context.tolist()
    ):
        key = (r, -1) if p == "prompt" else (r, c)
        if d == "out":
            outs[key] = t
        elif d == "in":
            ins[key] = t
            if p == "decode":
                decode_in.append(t)
        else:
            failed.add(r)
    prompt, decode = [], []
    for key, t_in in ins.items():
        if key in outs:
            (prompt if key[1] == -1 else decode).append((t_in, t_in - outs[key]))
    as2 = lambda xs: np.asarray(xs, dtype=np.float64).reshape(-1, 2)  # noqa: E731
    return Samples(as2(prompt), as2(decode), np.asarray(decode_in, dtype=np.float64), len(failed))


def window_part(s: Samples, warmup_s: float, end_s: float) -> tuple:
    """One log as an ``helix.metrics.aggregate`` part: (prompt pairs, decode pairs, window)."""
    return (s.prompt, s.decode, (float(warmup_s), float(end_s)))


def parse_logs(
    paths: list[str | Path], warmup_s: float = DEFAULT_WARMUP_S, end_s: float = DEFAULT_END_S
) -> dict:
    """Metrics of one log, or the sub-cluster aggregate of several (an events.csv with a ``part``
    column counts as one log per part).

    Aggregate: throughputs add up and percentiles come from the pooled samples (``aggregate``);
    ``mean`` is the pooled mean too, consistent with the pooled percentiles and with the
    simulator's aggregation. The paper's AE readme quotes a throughput-weighted mean of the
    per-log means instead (docs/design/prototype.md s8); it is reported as ``mean_throughput_weighted``.
    """
    from helix.metrics import aggregate

    if not paths:
        raise HelixInputError(None, "logs", "no event log given")
    logs = [ev for p in paths for ev in read_events(p).split_parts()]
    samples = [pair(ev) for ev in logs]
    paths = [ev.source for ev in logs]
    parts = [window_part(s, warmup_s, end_s) for s in samples]
    out = aggregate(parts, throughput="span")
    out.update(warmup_s=float(warmup_s), end_s=float(end_s), failed_requests=sum(s.failed for s in samples))
    if len(paths) > 1:
        per = [dict(aggregate([part], throughput="span"), log=str(p)) for part, p in zip(parts, paths)]
        total = sum(m["decode_throughput_tps"] for m in per)
        for key in ("prompt_latency_s", "decode_latency_s"):
            out[key]["mean_throughput_weighted"] = (
                sum(m[key]["mean"] * m["decode_throughput_tps"] for m in per) / total
                if total > 0
                else float("nan")
            )
        out["logs"] = per
    return out
