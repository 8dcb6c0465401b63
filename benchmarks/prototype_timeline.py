"""Where a decode round's wall time goes in a 2-stage prototype run (the timelines the workers write
with HELIX_TIMELINE_DIR, ``benchmarks/prototype.py --timeline DIR``).

A round: the first stage's decode step starts, runs, sends the batch; the second stage picks it up,
runs its decode step, loops the next decodes back; the first stage picks them up and starts its
next decode step. Each gap between a send and the next decode step at the receiver is split by what
the receiver was doing meanwhile: a prompt step (and sending its output), waiting in ``poll`` (the
wake-up after the batch arrived, or the regroup hold), receiving/checking messages, the rest of the
loop. Per worker also: the share of the wall time in each activity.

    python benchmarks/prototype_timeline.py DIR [--skip-s 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
from pathlib import Path


def load(path: Path, skip_s: float) -> list:
    ev = json.loads(path.read_text())
    t0 = min(e[1] for e in ev)
    return [e for e in ev if e[1] >= t0 + skip_s]


_STARTS: dict = {}


def _starts(ev: list) -> list:
    if id(ev) not in _STARTS:
        _STARTS[id(ev)] = [e[1] for e in ev]  # the serving thread's events never overlap: sorted
    return _STARTS[id(ev)]


def classify(ev: list, a: float, b: float) -> dict:
    """Seconds of [a, b] the worker spent in each activity (its timeline events overlapping it)."""
    out: dict = {}
    starts = _starts(ev)
    for e in ev[max(0, bisect.bisect_left(starts, a) - 1) :]:
        kind, s = e[0], e[1]
        if s >= b:
            break
        if kind in ("dec", "pro"):
            parts = [(f"{kind}_step", s, e[2]), (f"{kind}_send", e[2], e[3])]
        elif kind == "poll":
            label = "poll_idle" if e[4] == 0 else ("poll_hold" if e[3] > 0 else "poll_0")
            parts = [(label, s, e[2])]
        else:
            parts = [(f"recv_{e[4]}", s, e[2])]
        for label, x, y in parts:
            ov = min(y, b) - max(x, a)
            if ov > 0:
                out[label] = out.get(label, 0.0) + ov
    out["loop_other"] = max(0.0, (b - a) - sum(out.values()))
    return out


def rounds(w1: list, w2: list) -> list[dict]:
    """Per round of the first stage's decode steps, the critical path split into its parts."""
    d1 = [e for e in w1 if e[0] == "dec"]
    d2 = [e for e in w2 if e[0] == "dec"]
    starts2 = [e[1] for e in d2]
    out = []
    for i in range(len(d1) - 1):
        a = d1[i]
        j = bisect.bisect_left(starts2, a[3])
        if j >= len(d2) or d2[j][1] > d1[i + 1][1]:
            continue
        b = d2[j]
        nxt = d1[i + 1]
        if nxt[1] < b[3]:  # a second batch: not one round
            continue
        r = {
            "round_ms": nxt[1] - a[1],
            "w1_step": a[2] - a[1],
            "w1_send": a[3] - a[2],
            "w2_step": b[2] - b[1],
            "w2_send": b[3] - b[2],
            "rows": a[4],
        }
        for k, v in classify(w2, a[3], b[1]).items():
            r[f"at_w2:{k}"] = v
        for k, v in classify(w1, b[3], nxt[1]).items():
            r[f"at_w1:{k}"] = v
        out.append(r)
    return out


def request_states(path: Path, skip_s: float) -> dict:
    """From the host's events: mean prompt latency, mean decode latency and the mean number of
    requests in each state (prompt in flight, decoding, waiting for their relaunch) after ``skip_s``."""
    import csv

    rows = list(csv.DictReader(path.open()))
    t_end = max(float(r[next(iter(r))]) for r in rows)
    key_t = next(iter(rows[0]))
    per: dict = {}
    for r in rows:
        per.setdefault(int(r["request_id"] if "request_id" in r else r[list(r)[1]]), []).append(r)
    prompt_lat, dec_lat = [], []
    in_prompt = in_decode = 0.0
    for evs in per.values():
        outs = {}
        first_out = prompt_in = last_in = None
        for r in evs:
            t = float(r[key_t])
            vals = list(r.values())
            d, ph, c = vals[2], vals[3], vals[4]
            if d == "out":
                outs[(ph, c)] = t
                if ph == "prompt":
                    first_out = t
            elif d == "in" and (ph, c) in outs:
                lat = t - outs[(ph, c)]
                if outs[(ph, c)] >= skip_s:
                    (prompt_lat if ph == "prompt" else dec_lat).append(lat)
                if ph == "prompt":
                    prompt_in = t
                last_in = t
        lo = skip_s
        if first_out is not None and prompt_in is not None:
            in_prompt += max(0.0, min(prompt_in, t_end) - max(first_out, lo))
        if prompt_in is not None and last_in is not None:
            in_decode += max(0.0, min(last_in, t_end) - max(prompt_in, lo))
    span = t_end - skip_s
    return {
        "prompt_latency_ms": round(1000 * statistics.mean(prompt_lat), 2) if prompt_lat else None,
        "decode_latency_ms": round(1000 * statistics.mean(dec_lat), 2) if dec_lat else None,
        "requests_in_prompt": round(in_prompt / span, 2),
        "requests_decoding": round(in_decode / span, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--skip-s", type=float, default=3.0)
    args = p.parse_args()
    d = Path(args.dir)
    w1, w2 = load(d / "worker1.json", args.skip_s), load(d / "worker2.json", args.skip_s)
    rs = rounds(w1, w2)
    keys = sorted({k for r in rs for k in r})
    span = max(w1[-1][1], w2[-1][1]) - min(w1[0][1], w2[0][1])
    print(f"{len(rs)} single-batch rounds in {span:.2f} s ({len(rs) / span:.1f}/s)")
    print(f"{'part':28s} {'mean ms':>8s} {'median':>8s} {'p90':>8s}")
    for k in keys:
        vals = [r.get(k, 0.0) * (1 if k == "rows" else 1000) for r in rs]
        vals.sort()
        print(
            f"{k:28s} {statistics.mean(vals):8.3f} {statistics.median(vals):8.3f} "
            f"{vals[int(0.9 * len(vals))]:8.3f}"
        )
    for name, ev in (("worker 1", w1), ("worker 2", w2)):
        tot = classify(ev, ev[0][1], ev[-1][1])
        s = sum(tot.values())
        print(name, {k: round(v / s, 3) for k, v in sorted(tot.items())})
    for name, f in (("worker 1", "worker1.json"), ("worker 2", "worker2.json")):
        ev = load(d / f, 0.0)
        # a prompt's time at a worker: from the drain of the message that brought it (FIFO order)
        # to the end of the step that finished it
        ins = [e[1] for e in ev if e[0] == "recv" and e[4] == "prompt" for _ in range(e[3])]
        outs = [e[2] for e in ev if e[0] == "pro" for _ in range(e[4])]
        n = min(len(ins), len(outs))
        if n:
            skip = ev[0][1] + args.skip_s
            lat = sorted(outs[k] - ins[k] for k in range(n) if ins[k] >= skip)
            n = len(lat)
            print(
                f"{name}: prompt at the worker {1000 * statistics.mean(lat):.2f} ms mean, "
                f"{1000 * lat[n // 2]:.2f} median, {1000 * lat[int(0.9 * n)]:.2f} p90"
            )
    if (d / "events.csv").is_file():
        print("requests", request_states(d / "events.csv", args.skip_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
