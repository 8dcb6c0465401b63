"""The served-throughput estimate (helix/placement/served.py) on hand-made clusters with closed-form answers.

With a decode time independent of the batch (D = k * TD per machine, a lone token's walk D1 = D too),
no prompt work and links fast enough that send times vanish, the estimate's fixed point
T = (N - T/out * PL) / RTT has the closed form T = N / (RTT + PL / out): N = 0.8 * (smallest
per-layer KV) / x, PL = the prompt latency (half a walk per machine plus the latencies), and RTT =
the latencies c of a route plus, per machine, its walk D, the lone walk D1 that the rest of a group
of g tokens (the tokens of one route) waits for when the machine is idle (share 1 - busy), and half
a walk when it is busy; busy = T * share * D / b = D / RTT here (b = g, every token of a route
walks together), so per machine stay = D + (1 - 1/g) (1 - D/RTT) D + D^2 / (2 RTT), and with m
machines on every route RTT solves RTT^2 - (c + m a) RTT - m D^2 (1 - 2 (1 - 1/g)) / 2 ... (see
``rtt_closed_form``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from helix.cluster import Cluster, Link, Machine
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.placement.served import AZURE_CONV, SIM_OFFLINE_RUN, GpuServing, ServedModel, WorkloadStats

WL = WorkloadStats(
    mean_input=100.0, mean_output=50.0, input_sq=1.0e4, kv_tokens={"offline": 200.0, "online": 150.0}
)
# activations of 1 mB: the CPU-buffer copy and send times vanish, so only walks and latencies count
MODEL = SimpleNamespace(name="toy", num_layers=4, activation_bytes_per_token=1e-3, token_bytes=2.0)
TD = 1e-4  # s per layer per decode batch, any batch
FAST = 1e15  # bytes/s: send times vanish


def gpu(kv_per_layer=1e6, dm=10_000, prompt=0.0, K=4):
    return GpuServing(
        K,
        np.array([kv_per_layer * k for k in range(1, K + 1)]),
        np.full(K, float(dm)),
        np.full(dm + 1, TD),
        prompt,
    )


def cluster(machines, links):
    return Cluster(
        "toy", [Machine(n, "G", r) for n, r in machines], [Link(a, b, bw, lat) for a, b, bw, lat in links]
    )


def served(cl, run=SIM_OFFLINE_RUN, **g):
    tables = [[1e6] * 4 for _ in cl.machines]
    return ServedModel(cl, MODEL, tables, None, "toy", workload=WL, gpu_models={"G": gpu(**g)}, run=run)


def chain(lat=(0.01, 0.02, 0.03), bw=FAST, regions=("r0", "r0")):
    return cluster(
        [("a", regions[0]), ("b", regions[1])],
        [
            ("source", "a", FAST, lat[0]),
            ("a", "b", bw, lat[1]),
            ("b", "sink", FAST, lat[2]),
            ("source", "b", FAST, 0.0),
            ("a", "sink", FAST, 0.0),
        ],
    )


def closed_form(n, rtt, pl):
    return n / (rtt + pl / WL.mean_output)


def rtt_closed_form(c, m, D, g):
    """RTT of routes of m machines with walk D, latencies c and groups of g tokens (module doc):
    RTT = c + m (D + (1 - 1/g) (1 - D/RTT) D + D^2 / (2 RTT)), a quadratic in RTT."""
    a = m * (D + (1 - 1 / g) * D)  # the terms without 1/RTT
    e = m * D * D * (0.5 - (1 - 1 / g))  # the coefficient of 1/RTT
    return ((c + a) + np.sqrt((c + a) ** 2 + 4 * e)) / 2


def test_chain_matches_closed_form():
    e = served(chain()).estimate([0, 2], [2, 2])
    n = 0.8 * 1e6 / 200.0
    walks = 2 * (2 * TD)
    assert e.in_flight == pytest.approx(n)
    rtt = rtt_closed_form(0.06, 2, 2 * TD, e.in_decode)  # one route: every token in one group
    assert e.rtt == pytest.approx(rtt, rel=1e-4)
    assert 0.06 + 2 * walks > rtt > 0.06 + 1.99 * walks  # about two walks per machine
    assert e.prompt_latency == pytest.approx(walks / 2 + 0.06, rel=1e-4)
    assert e.throughput == pytest.approx(closed_form(n, rtt, walks / 2 + 0.06), rel=1e-3)
    assert e.max_flow == pytest.approx(1e6) and e.crossings == 0.0 and e.reason is None


def test_batch_limit_adds_passes():
    """Dm below the batch: each machine serves its tokens in b / Dm passes (closed form in n_dec)."""
    free = served(chain()).estimate([0, 2], [2, 2])
    capped = served(chain(), dm=500).estimate([0, 2], [2, 2])
    nd, T = capped.in_decode, capped.throughput
    D, D1 = 2 * TD * nd / 500, 2 * TD  # the batch of nd tokens in nd / 500 passes; a lone token in one
    busy = T * D / nd
    stay = D + (1 - 1 / nd) * (1 - busy) * D1 + busy * D / 2
    assert capped.rtt == pytest.approx(2 * stay + 0.06, rel=1e-4)
    assert capped.throughput == pytest.approx(nd / capped.rtt, rel=2e-3)
    assert capped.throughput < free.throughput


def test_two_parallel_chains_average_their_round_trips():
    cl = cluster(
        [("a1", "r"), ("b1", "r"), ("a2", "r"), ("b2", "r")],
        [
            ("source", "a1", FAST, 0.01),
            ("a1", "b1", FAST, 0.01),
            ("b1", "sink", FAST, 0.01),
            ("source", "a2", FAST, 0.05),
            ("a2", "b2", FAST, 0.05),
            ("b2", "sink", FAST, 0.05),
        ],
    )
    e = served(cl).estimate([0, 2, 0, 2], [2, 2, 2, 2])
    n = 0.8 * 2e6 / 200.0  # two holders per layer
    walks = 4 * TD
    # half the requests on each chain: groups of n_dec / 2, mean latencies (0.03 + 0.15) / 2
    rtt = rtt_closed_form(0.09, 2, 2 * TD, e.in_decode / 2)
    pl = 0.5 * (walks / 2 + 0.03) + 0.5 * (walks / 2 + 0.15)
    assert e.in_flight == pytest.approx(n)
    assert e.rtt == pytest.approx(rtt, rel=1e-4)
    assert e.throughput == pytest.approx(closed_form(n, rtt, pl), rel=1e-3)
    # one chain alone: half the KV, its own round trip
    one = served(cl).estimate([0, 2, 0, 0], [2, 2, 0, 0])
    rtt1 = rtt_closed_form(0.03, 2, 2 * TD, one.in_decode)
    assert one.throughput == pytest.approx(closed_form(n / 2, rtt1, walks / 2 + 0.03), rel=1e-3)


def test_slow_link_bounds_throughput_by_its_utilisation():
    """A 100 B/s link between regions: decode tokens and prompts share it, so in steady state
    (``run=None``) T < bw / (bytes * (1 + in/out))."""
    bw = 100.0
    slow = chain(bw=bw, regions=("r0", "r1"))
    e = served(slow, run=None).estimate([0, 2], [2, 2])
    limit = bw / (2.001 * (1 + WL.mean_input / WL.mean_output))
    assert 0.8 * limit < e.throughput < limit
    assert e.crossings == pytest.approx(1.0)
    fast = served(chain(regions=("r0", "r1")), run=None).estimate([0, 2], [2, 2])
    assert fast.throughput > 2 * e.throughput


def test_slow_prompts_keep_the_simulated_run_filling():
    """The simulator's offline run starts with 20 requests and launches one per finished prompt.
    Over the 100 B/s link a prompt takes s_in = 2 s, so the 4000 requests the KV holds are far off
    at the end of the window [60, 660] s: the link serves prompts at q = (0.95 - T s_tok) / s_in
    (95 % busy), requests grow as 20 + q t, 20 of them in their prompt, so the window holds
    n_dec = q (60 + 660) / 2 on average and T = n_dec / RTT = 360 * 0.95 / (s_in RTT + 360 s_tok)."""
    slow = chain(bw=100.0, regions=("r0", "r1"))
    e = served(slow).estimate([0, 2], [2, 2])
    s_tok, s_in = 2.001 / 100.0, 100 * 2.001 / 100.0
    assert e.throughput == pytest.approx(360 * 0.95 / (s_in * e.rtt + 360 * s_tok), rel=1e-3)
    assert e.throughput < 0.6 * served(slow, run=None).estimate([0, 2], [2, 2]).throughput
    # a fast chain fills within the warm-up: the run changes nothing
    fast = chain()
    assert served(fast).estimate([0, 2], [2, 2]).throughput == pytest.approx(
        served(fast, run=None).estimate([0, 2], [2, 2]).throughput
    )


def test_run_matches_the_simulator_settings():
    from helix.placement.served import SIM_OFFLINE_RUN
    from helix.sim.settings import HELIX_N_INIT, OFFLINE_MEASURE_S, OFFLINE_WARMUP_S

    assert SIM_OFFLINE_RUN == (HELIX_N_INIT, OFFLINE_WARMUP_S, OFFLINE_WARMUP_S + OFFLINE_MEASURE_S)


def test_online_rate_served_or_saturated():
    sm = served(chain(bw=100.0, regions=("r0", "r1")))
    ok = sm.estimate([0, 2], [2, 2], "online", rate_tps=15.0)
    assert not ok.saturated and ok.detail["offered"] == pytest.approx(15.0 * 50 / 150)
    # the offered rate less the run's tail: P + r (E[out^2] / E[out] + 1) / 2 seconds of it
    tail = (ok.prompt_latency + ok.rtt * (50 + 1) / 2) / 1800.0
    assert ok.throughput == pytest.approx(15.0 * 50 / 150 * (1 - tail), rel=1e-9)
    assert ok.rtt > 0.06 and ok.in_decode == pytest.approx(ok.detail["offered"] * ok.rtt, rel=1e-4)  # Little
    too_much = sm.estimate([0, 2], [2, 2], "online", rate_tps=60.0)
    assert too_much.saturated and too_much.throughput == 0.0 and too_much.reason


def test_online_window_matches_the_simulator_settings():
    from helix.placement.served import SIM_ONLINE_WINDOW
    from helix.sim.settings import ONLINE_DURATION_S, WorkloadSpec

    assert SIM_ONLINE_WINDOW == ONLINE_DURATION_S
    spec = WorkloadSpec(mode="online", rate_tps=1.0)
    assert (spec.warmup, spec.duration) == (0.0, SIM_ONLINE_WINDOW)  # measured from the first arrival


def test_online_tail_counts_the_tokens_past_the_window():
    """A chain online below capacity (latencies 0.1 s per hop, walks of 0.2 ms): the prompt
    latency is the three latencies plus half a walk per machine, the round trip about the same
    0.3 s. Arrivals spread evenly over a 60 s window, outputs of 10 and 90 tokens: a token of a
    request arriving at t is done at t + P + j r (j = 1..out), and the share of the offered tokens
    done by the window's end, counted request by request, is the estimate's (to the counting
    grid)."""
    wl = WorkloadStats.from_lengths([100, 100], [10, 90])
    assert wl.tail_tokens == pytest.approx((10 * 11 + 90 * 91) / 2 / 100)
    cl = chain(lat=(0.1, 0.1, 0.1))
    sm = ServedModel(
        cl, MODEL, [[1e6] * 4] * 2, None, workload=wl, gpu_models={"G": gpu()}, online_window=60.0
    )
    e = sm.estimate([0, 2], [2, 2], "online", rate_tps=3.0)
    steady = ServedModel(
        cl, MODEL, [[1e6] * 4] * 2, None, workload=wl, gpu_models={"G": gpu()}, online_window=None
    ).estimate([0, 2], [2, 2], "online", rate_tps=3.0)
    P, r = e.prompt_latency, e.rtt
    assert P == pytest.approx(0.3, rel=0.05) and r == pytest.approx(0.3, rel=0.05)
    assert steady.throughput == pytest.approx(3.0 * 50 / 150) == e.detail["offered"]
    arrivals = np.linspace(0.0, 60.0, 600_001)[:-1] + 0.5e-4  # uniform over the window
    done = sum(np.clip(np.floor((60.0 - arrivals - P) / r), 0, out).sum() for out in (10, 90))
    offered = arrivals.size * (10 + 90)
    assert e.throughput / steady.throughput == pytest.approx(done / offered, abs=2e-4)
    assert e.throughput < 0.8 * steady.throughput  # 0.3 s + 41.5 x 0.3 s of a 60 s window
    # a longer round trip at the same rate serves less of it
    slow = ServedModel(
        chain(lat=(0.2, 0.2, 0.2)),
        MODEL,
        [[1e6] * 4] * 2,
        None,
        workload=wl,
        gpu_models={"G": gpu()},
        online_window=60.0,
    ).estimate([0, 2], [2, 2], "online", rate_tps=3.0)
    assert slow.detail["offered"] == e.detail["offered"] and slow.throughput < e.throughput


def test_no_complete_route_is_zero_with_a_reason():
    cl = chain()
    for starts, sizes in (([0, 3], [2, 1]), ([0, 0], [0, 0]), ([1, 2], [1, 2])):
        e = served(cl).estimate(starts, sizes)
        assert e.throughput == 0.0 and e.reason and "route" in e.reason
        assert not np.isnan(e.rtt)
    e = served(cl).estimate_layout(Layout(4, {"a": (0, 2), "b": None}), "online", 100.0)
    assert e.saturated and e.throughput == 0.0 and e.reason


def test_missing_profile_is_named(artifact_dir):
    from helix.profiles.store import ProfileStore

    cl = Cluster(
        "c", [Machine("m0", "NOPE")], [Link("source", "m0", 1e9, 0.001), Link("m0", "sink", 1e9, 0.001)]
    )
    model = SimpleNamespace(
        name="llama70b", num_layers=80, activation_bytes_per_token=16384.0, token_bytes=2.0
    )
    with pytest.raises(HelixInputError) as exc:
        ServedModel(cl, model, [[1.0] * 12], ProfileStore.from_artifact(artifact_dir), "llama70b")
    assert "llama70b/NOPE" in exc.value.one_line()


def test_azure_moments_match_the_trace(artifact_dir, tmp_path):
    from helix.artifact.traces import import_traces, load_lengths

    inp, out = load_lengths(import_traces(artifact_dir, tmp_path)["lengths"])
    w = WorkloadStats.from_lengths(inp, out)
    assert w.mean_input == pytest.approx(AZURE_CONV.mean_input, rel=1e-5)
    assert w.mean_output == pytest.approx(AZURE_CONV.mean_output, rel=1e-5)
    assert w.input_sq == pytest.approx(AZURE_CONV.input_sq, rel=1e-5)
    assert w.output_sq == pytest.approx(AZURE_CONV.output_sq, rel=1e-5)
    assert AZURE_CONV.tail_tokens == pytest.approx(175.13, abs=0.01)
    for mode in ("offline", "online"):
        assert w.kv_tokens[mode] == pytest.approx(AZURE_CONV.kv_tokens[mode], rel=1e-5)


def test_estimate_modes_share_one_routing_and_equal_single_estimates():
    sm = served(chain(bw=100.0, regions=("r0", "r1")))
    queries = [("offline", None), ("online", 15.0), ("online", 60.0)]
    many = sm.estimate_modes([0, 2], [2, 2], queries)
    assert [e.as_dict() for e in many] == [sm.estimate([0, 2], [2, 2], m, r).as_dict() for m, r in queries]
    assert [e.mode for e in many] == ["offline", "online", "online"] and many[2].saturated
    none = sm.estimate_modes([0, 3], [2, 1], queries)  # no complete route: every query says so
    assert all(e.throughput == 0.0 and "route" in e.reason for e in none)
    assert [e.saturated for e in none] == [False, True, True]
