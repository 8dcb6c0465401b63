"""The one metrics function: window rule, percentile rule int(n*p), sub-cluster aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helix.errors import HelixInputError
from helix.metrics import aggregate, latency_stats, percentile, summarize


def test_percentile_is_element_int_n_p_without_interpolation():
    values = np.arange(10, dtype=float)  # n = 10
    assert percentile(values, 5) == 0.0  # int(0.5) = 0
    assert percentile(values, 25) == 2.0  # int(2.5) = 2
    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 9.0  # int(9.5) = 9
    stats = latency_stats([3.0, 1.0, 2.0, 4.0])  # sorted internally
    assert stats["p50"] == 3.0 and stats["p5"] == 1.0 and stats["mean"] == 2.5


def test_empty_sample_gives_nan():
    stats = latency_stats([])
    assert all(math.isnan(v) for v in stats.values())


def test_throughput_counts_decodes_in_inclusive_window_over_nominal_length():
    decode = [(10.0, 0.5), (11.0, 0.5), (20.0, 0.7), (20.0001, 9.0), (9.9999, 9.0)]
    prompt = [(10.0, 1.0), (30.0, 5.0)]
    m = summarize(prompt, decode, (10.0, 20.0))
    assert m["decode_throughput_tps"] == pytest.approx(3 / 10.0)  # bounds inclusive, outside excluded
    assert m["decode_latency_s"]["mean"] == pytest.approx((0.5 + 0.5 + 0.7) / 3)
    assert m["prompt_latency_s"]["p50"] == 1.0 and m["n_prompts"] == 1


def test_aggregation_sums_throughput_and_pools_samples():
    busy = ([(1.0, 1.0)], [(t, 0.1) for t in np.linspace(0, 10, 91)], (0.0, 10.0))
    idle = ([(1.0, 9.0)], [(5.0, 2.0)], (0.0, 10.0))
    m = aggregate([busy, idle])
    assert m["decode_throughput_tps"] == pytest.approx(9.1 + 0.1)
    # pooled: 92 decode samples, the busy part dominates the percentiles
    assert m["n_decodes"] == 92
    assert m["decode_latency_s"]["p95"] == pytest.approx(0.1)
    assert m["decode_latency_s"]["mean"] == pytest.approx((91 * 0.1 + 2.0) / 92)
    assert m["prompt_latency_s"]["p50"] == 9.0  # element int(2 * 0.5) of [1, 9]


def test_parts_keep_their_own_windows():
    a = ([], [(100.0, 1.0)], (95.0, 105.0))
    b = ([], [(100.0, 1.0)], (0.0, 10.0))
    assert aggregate([a, b])["decode_throughput_tps"] == pytest.approx(0.1)


@pytest.mark.parametrize("window", [(5.0, 5.0), (10.0, 2.0)])
def test_bad_window_is_one_line_error(window):
    with pytest.raises(HelixInputError, match="window"):
        summarize([], [], window)


def test_bad_sample_shape_is_error():
    with pytest.raises(HelixInputError, match="pairs"):
        summarize([1.0, 2.0, 3.0], [], (0.0, 1.0))
