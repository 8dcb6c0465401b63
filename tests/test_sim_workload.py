"""Workloads: the Azure trace scaled to a rate reproduces the paper's arrival counts bit for bit."""

from __future__ import annotations

import random

import pytest

from helix.artifact.traces import read_artifact_arrivals, read_artifact_lengths
from helix.errors import HelixInputError
from helix.workload import LengthSampler, OfflineFeeder, online_arrivals


@pytest.fixture(scope="module")
def traces(artifact_dir):
    lengths = read_artifact_lengths(artifact_dir)
    counts = read_artifact_arrivals(artifact_dir)["count"].tolist()
    return lengths["input"].tolist(), lengths["output"].tolist(), counts


def _arrivals(traces, rate, t0, seed=0, duration=1800):
    inp, out, counts = traces
    sampler = LengthSampler(inp, out, random.Random(seed))
    return online_arrivals(counts, sampler, rate, t0, duration)


@pytest.mark.parametrize("rate,t0,expected", [(700, 20, 1293), (10, 12, 18), (2150, 20, 3942)])
def test_paper_arrival_counts(traces, rate, t0, expected):
    """docs/design/simulator.md s3.2: counts the paper's simulator produced for these rates."""
    arr = _arrivals(traces, rate, t0)
    assert len(arr) == expected
    times = [a[0] for a in arr]
    assert times == sorted(times) and t0 <= times[0] and times[-1] < t0 + 1800


def test_mean_length_and_token_rate(traces):
    inp, out, _ = traces
    s = LengthSampler(inp, out, random.Random(0))
    assert s.mean_total == pytest.approx(995.53, abs=0.01)
    arr = _arrivals(traces, 700, 20)
    assert sum(a + b for _, a, b in arr) / 1800 == pytest.approx(700, rel=0.1)


def test_seeded_and_seed_sensitive(traces):
    assert _arrivals(traces, 300, 10, seed=0) == _arrivals(traces, 300, 10, seed=0)
    assert _arrivals(traces, 300, 10, seed=0) != _arrivals(traces, 300, 10, seed=1)


@pytest.mark.parametrize(
    "rate,duration,field", [(-1.0, 1800, "rate_tps"), (0.0, 1800, "rate_tps"), (100.0, -5, "duration_s")]
)
def test_bad_rate_or_duration(traces, rate, duration, field):
    with pytest.raises(HelixInputError, match=field):
        _arrivals(traces, rate, 0, duration=duration)


def test_zero_request_trace_is_rejected():
    with pytest.raises(HelixInputError, match="no requests"):
        online_arrivals([0, 0, 0], LengthSampler([5], [5], random.Random(0)), 100, 0, 30)


def test_offline_feeder_needs_a_request():
    with pytest.raises(HelixInputError, match="n_init"):
        OfflineFeeder(0, 10.0, on_prompt=False)
    assert OfflineFeeder(3, 10.0, on_prompt=True).initial_times(2.0) == [2.0, 2.1, 2.2]


def test_length_sampler_validates():
    with pytest.raises(HelixInputError):
        LengthSampler([1, 2], [3], random.Random(0))
    with pytest.raises(HelixInputError):
        LengthSampler([0], [3], random.Random(0))
