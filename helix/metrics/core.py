"""Decode throughput and latency statistics over a window (docs/design/simulator.md s6, docs/metrics.md).

* decode throughput = decode iterations whose finish time lies in ``[start, end]`` (inclusive)
  divided by the nominal window length ``end - start`` (not the span of the events);
* latency statistics over the iterations finished in the window: mean and the 5/25/50/75/95th
  percentiles, each the element ``int(n * p)`` of the ascending sorted samples (no interpolation);
* the prototype's parser (docs/design/prototype.md s8) divides instead by the span between the first and the
  last in-window decode finish (+1e-6): ``throughput="span"``;
* sub-cluster aggregation (separate pipelines, per-type helix): throughputs add up, latency samples
  are pooled (concatenated) before the statistics, so a busy sub-cluster weighs more.

Inputs are plain arrays so the simulator and the prototype's parser share this code unchanged.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from helix.errors import HelixInputError

PERCENTILES = (5, 25, 50, 75, 95)


def percentile(sorted_values: np.ndarray, p: float) -> float:
    """Element ``int(n * p / 100)`` of ascending ``sorted_values`` (the paper's rule)."""
    n = len(sorted_values)
    if n == 0:
        return float("nan")
    return float(sorted_values[min(int(n * p / 100), n - 1)])


def latency_stats(latencies: Iterable[float]) -> dict:
    """``{mean, p5, p25, p50, p75, p95}`` of a latency sample (NaN when empty)."""
    lat = np.sort(
        np.asarray(list(latencies) if not isinstance(latencies, np.ndarray) else latencies, dtype=np.float64)
    )
    out = {"mean": float(lat.mean()) if len(lat) else float("nan")}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(lat, p)
    return out


def _in_window(finish: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    start, end = window
    return (finish >= start) & (finish <= end)


def _as_pairs(samples, what: str) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return np.empty(0), np.empty(0)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise HelixInputError(None, what, "expected (finish time, latency) pairs", arr.shape)
    return arr[:, 0], arr[:, 1]


def _check_window(window: tuple[float, float]) -> None:
    start, end = window
    if not end > start:
        raise HelixInputError(None, "window", "end must be after start", (start, end))


def summarize(prompt, decode, window: tuple[float, float], throughput: str = "window") -> dict:
    """Metrics of one run: ``prompt``/``decode`` are (finish time, latency) pairs, any order."""
    return aggregate([(prompt, decode, window)], throughput=throughput)


def aggregate(parts: Sequence[tuple], throughput: str = "window") -> dict:
    """Metrics of runs measured together: ``parts`` = [(prompt pairs, decode pairs, window), ...].

    One part is a plain run. Several parts (sub-clusters run separately) give the sum of their
    decode throughputs and statistics over the pooled in-window latency samples. ``throughput``
    is the divisor of each part's decode count: ``"window"`` (nominal window length, simulator)
    or ``"span"`` (last - first in-window decode finish + 1e-6, the prototype's log parser).
    """
    if throughput not in ("window", "span"):
        raise HelixInputError(None, "throughput", "must be 'window' or 'span'", throughput)
    if not parts:
        raise HelixInputError(None, "parts", "nothing to aggregate")
    thr = 0.0
    p_lat, d_lat = [], []
    n_decode = 0
    windows = []
    for prompt, decode, window in parts:
        _check_window(window)
        pf, pl = _as_pairs(prompt, "prompt")
        df, dl = _as_pairs(decode, "decode")
        dm = _in_window(df, window)
        k = int(dm.sum())
        n_decode += k
        if throughput == "span":
            thr += k / (df[dm].max() - df[dm].min() + 1e-6) if k else 0.0
        else:
            thr += k / (window[1] - window[0])
        p_lat.append(pl[_in_window(pf, window)])
        d_lat.append(dl[dm])
        windows.append(window[1] - window[0])
    prompts = np.concatenate(p_lat)
    return {
        "decode_throughput_tps": thr,
        "prompt_latency_s": latency_stats(prompts),
        "decode_latency_s": latency_stats(np.concatenate(d_lat)),
        "n_prompts": int(len(prompts)),
        "n_decodes": n_decode,
        "window_s": windows[0] if len(set(windows)) == 1 else windows,
    }
