"""The admission replay of the served estimate (helix/placement/admission.py) and its decode
platoons by machine class (``groups="class"``) on hand-made clusters.

A chain, where the feeder's per-layer check binds: the requests in flight are the per-layer KV
bound of the closed-form estimate (0.8 of a layer's KV over a request's expected tokens, at most the
router's 0.85 mark). Two chains whose first stages the router splits 3:1 by their flows, the
larger one ending in a machine with little KV that is the only candidate after its first stage: the
router, not the feeder, binds, so (as the simulator measures, docs/served.md) it turns down half of
the launches, long requests fit that machine less often than short ones, and fewer requests are
in flight than the per-layer bound says.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_served import FAST, MODEL, TD, gpu

from helix.cluster import Cluster, Link, Machine
from helix.errors import HelixInputError, HelixRunError
from helix.placement import admission
from helix.placement.served import AVG_OUTPUT_LEN, FEED_HWM, KV_HWM, ServedModel, WorkloadStats

SHORT, LONG, OUT = 100, 1500, 50


def lengths(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


def model(cl, pairs, kv_per_layer, flows=None, **kw):
    """Machines of type ``name`` (one GPU type each, KV per layer of tokens as given); capacity
    tables ``flows`` per machine (the max flow's node capacities)."""
    gms = {m.gpu: gpu(kv_per_layer=kv_per_layer[m.name]) for m in cl.machines}
    tables = [[(flows or {}).get(m.name, 1e6)] * 4 for m in cl.machines]
    wl = WorkloadStats.from_lengths(*lengths(pairs))
    return ServedModel(cl, MODEL, tables, None, "toy", workload=wl, gpu_models=gms, admission="replay", **kw)


def test_replay_on_a_chain_gives_the_per_layer_kv_bound():
    cl = Cluster(
        "chain",
        [Machine("a", "a"), Machine("b", "b")],
        [Link("source", "a", FAST, 0.01), Link("a", "b", FAST, 0.02), Link("b", "sink", FAST, 0.01)],
    )
    kv = 10_000.0  # tokens per layer on both machines
    sm = model(cl, [(SHORT, OUT)] * 10, {"a": kv, "b": kv})
    e = sm.estimate([0, 2], [2, 2])
    rep = e.detail["replay"]
    x = SHORT + AVG_OUTPUT_LEN  # every request's expected KV tokens per layer
    # the feeder admits while the layer's use is at most 0.8; launches already on their way pass
    # until the router's 0.85 mark
    assert FEED_HWM * kv / x - 1 <= rep.in_flight <= KV_HWM["offline"] * kv / x
    assert rep.input_in_flight == pytest.approx(SHORT) and rep.kv_in_flight == pytest.approx(x)
    again = model(cl, [(SHORT, OUT)] * 10, {"a": kv, "b": kv}).estimate
    plain = ServedModel(
        cl,
        MODEL,
        [[1e6] * 4] * 2,
        None,
        "toy",
        workload=WorkloadStats.from_lengths([SHORT], [OUT]),
        gpu_models={"a": gpu(kv_per_layer=kv), "b": gpu(kv_per_layer=kv)},
    ).estimate([0, 2], [2, 2])
    assert plain.in_flight == pytest.approx(FEED_HWM * kv / x)
    assert e.in_flight == pytest.approx(rep.in_flight)
    # the throughput follows the requests in flight (Little's law, the same round trip)
    assert e.throughput / plain.throughput == pytest.approx(rep.in_flight / plain.in_flight, rel=0.05)
    assert again([0, 2], [2, 2]).throughput == e.throughput  # deterministic


def two_chains():
    """a1 -> c1 and a2 -> c2 (no cross links), a1 and c1 three times the flow of a2 and c2."""
    names = ["a1", "a2", "c1", "c2"]
    links = [Link("source", "a1", FAST, 0.01), Link("source", "a2", FAST, 0.01)]
    links += [Link("a1", "c1", FAST, 0.01), Link("a2", "c2", FAST, 0.01)]
    links += [Link("c1", "sink", FAST, 0.01), Link("c2", "sink", FAST, 0.01)]
    return Cluster("two", [Machine(n, n) for n in names], links)


def test_a_forced_hop_rejects_half_the_launches_and_keeps_long_inputs_out():
    cl = two_chains()
    pairs = [(SHORT, OUT), (LONG, OUT)] * 50
    kv = {"a1": 40_000.0, "a2": 40_000.0, "c1": 6_000.0, "c2": 20_000.0}
    flows = {"a1": 3e6, "c1": 3e6, "a2": 1e6, "c2": 1e6}
    e = model(cl, pairs, kv, flows).estimate([0, 0, 2, 2], [2, 2, 2, 2])
    rep = e.detail["replay"]
    # in a steady state every admitted request triggers two launches (its prompt and its end)
    assert 0.4 <= rep.rejected_share <= 0.6
    # c1 (the only candidate after a1) has room for a short request more often than for a long one
    assert rep.input_in_flight < 0.9 * (SHORT + LONG) / 2
    # the closed-form bound: the feeder's 0.8 of layers 2-3 (c1 and c2 hold them) over the mean
    # request; the router stops c1's chain first, so fewer are in flight than the bound says
    x = (SHORT + LONG) / 2 + AVG_OUTPUT_LEN
    assert rep.in_flight < FEED_HWM * (kv["c1"] + kv["c2"]) / x
    # the more KV c1 has, the more long requests fit it (and the more requests are in flight)
    roomy = model(cl, pairs, {**kv, "c1": 60_000.0}, flows).estimate([0, 0, 2, 2], [2, 2, 2, 2])
    more = roomy.detail["replay"]
    assert more.input_in_flight > 2 * rep.input_in_flight and more.in_flight > 3 * rep.in_flight
    assert roomy.throughput > 3 * e.throughput


def test_replay_needs_the_lengths_and_a_known_admission():
    cl = two_chains()
    gms = {m.gpu: gpu() for m in cl.machines}
    with pytest.raises(HelixInputError, match="lengths"):
        ServedModel(cl, MODEL, [[1e6] * 4] * 4, None, "toy", gpu_models=gms, admission="replay")
    with pytest.raises(HelixInputError, match="admission"):
        ServedModel(cl, MODEL, [[1e6] * 4] * 4, None, "toy", gpu_models=gms, admission="nope")


def test_launch_delay_is_the_simulators():
    from helix.workload.offline import LAUNCH_DELAY

    assert admission.LAUNCH_DELAY == LAUNCH_DELAY


def diamond(gpus=("G", "G")):
    """a (layers 0-1) -> b1 | b2 (layer 2, half the flow each) -> c (layer 3); latencies 0.01 s."""
    ms = [Machine("a", "G"), Machine("b1", gpus[0]), Machine("b2", gpus[1]), Machine("c", "G")]
    pairs = [("source", "a"), ("a", "b1"), ("a", "b2"), ("b1", "c"), ("b2", "c"), ("c", "sink")]
    return Cluster("diamond", ms, [Link(x, y, FAST, 0.01) for x, y in pairs])


def diamond_estimate(groups, gpus=("G", "G")):
    cl = diamond(gpus)
    tables = [[1e6] * 4, [5e5] * 4, [5e5] * 4, [1e6] * 4]
    gms = {g: gpu() for g in {"G", *gpus}}
    wl = WorkloadStats.from_lengths([SHORT], [OUT])
    sm = ServedModel(cl, MODEL, tables, None, "toy", workload=wl, gpu_models=gms, groups=groups)
    return sm.estimate([0, 2, 2, 3], [2, 1, 1, 1])


def test_class_groups_rejoin_a_platoon_split_over_equal_machines():
    """With groups="class" the tokens split over b1 and b2 (same layers, same GPU type) travel on
    as one platoon: a and c walk groups of every decoding token, b1 and b2 half of them each, so
    (decode time independent of the batch, walks D, busy share D / RTT as in test_served) the round
    trip solves RTT = c + sum_m v_m (D_m + (1 - 1/g_m)(1 - D_m/RTT) D_m + D_m^2 / (2 RTT))."""
    e = diamond_estimate("class")
    nd = e.in_decode
    terms = [(1.0, 2 * TD, nd), (1.0, TD, nd / 2), (1.0, TD, nd)]  # (visits, walk, group): a, b1+b2, c
    a = sum(v * (d + (1 - 1 / g) * d) for v, d, g in terms)
    q = sum(v * d * d * (0.5 - (1 - 1 / g)) for v, d, g in terms)
    c = 0.04
    assert e.rtt == pytest.approx(((c + a) + np.sqrt((c + a) ** 2 + 4 * q)) / 2, rel=1e-4)
    # per route, a and c see two routes of half the tokens each: smaller groups, shorter waits
    assert diamond_estimate("route").rtt < e.rtt
    # machines of different GPU types do not walk in step: "class" is "route" there
    mixed = diamond_estimate("class", ("G", "H"))
    assert mixed.rtt == pytest.approx(diamond_estimate("route", ("G", "H")).rtt, rel=1e-12)
    with pytest.raises(HelixInputError, match="groups"):
        ServedModel(diamond(), MODEL, [[1e6] * 4] * 4, None, "toy", gpu_models={"G": gpu()}, groups="x")


# ---- the compiled replay loop (helix.placement._replay_c, Cython) against the Python one it is built
# from (helix/placement/replay_loop.py, the reference): the same result, bit for bit. The comparisons
# skip where no compiled copy was built (no C compiler); the selection tests run everywhere.

needs_compiled = pytest.mark.skipif(
    admission.compiled_core() is None,
    reason="helix.placement._replay_c not built (python setup.py build_ext --inplace)",
)


def _both_cores(monkeypatch, run):
    """``run()`` under the Python loop and under the compiled one."""
    outs = []
    for core in ("python", "compiled"):
        monkeypatch.setenv("HELIX_REPLAY_CORE", core)
        assert admission.replay_core() is (
            admission.py_loop if core == "python" else admission.compiled_core()
        )
        outs.append(run())
    return outs


@st.composite
def staged_replays(draw):
    """Arguments of :func:`admission.replay` on a random staged layout: 1-4 stages over 8 layers,
    1-3 machines per stage (of random KV, some too small for long requests), links from each stage to
    the next (random subset, random flows), random per-visit costs and trace lengths."""
    n_st = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(1, 7), min_size=n_st - 1, max_size=n_st - 1, unique=True)))
    bounds = [0, *cuts, 8]
    stages, k = [], []
    for s in range(n_st):
        m = draw(st.integers(1, 3))
        stages.append(list(range(len(k), len(k) + m)))
        k += [bounds[s + 1] - bounds[s]] * m
    n = len(k)
    cap = [draw(st.floats(2_000.0, 200_000.0)) * kk for kk in k]
    flow = st.floats(0.5, 50.0)
    links = [(-1, u, draw(flow)) for u in stages[0]]
    for a_st, b_st in zip(stages, stages[1:]):
        for a in a_st:
            dst = draw(st.lists(st.sampled_from(b_st), min_size=1, max_size=len(b_st), unique=True))
            links += [(a, b, draw(flow)) for b in sorted(dst)]
    links += [(u, -2, draw(flow)) for u in stages[-1]]
    cost = st.tuples(st.floats(0.0, 2.0), st.floats(1e-3, 0.2))
    node_cost = [draw(cost) for _ in range(n)]
    link_cost = [draw(cost) for _ in links]
    sizes = st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 400)), min_size=1, max_size=40)
    pairs = draw(sizes)
    arrays = (np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float))
    n_init = draw(st.integers(1, 30))
    return (n, k, cap, stages, links, node_cost, link_cost, arrays, 0.85, 240.0, 0.8, n_init)


@needs_compiled
@settings(max_examples=40, deadline=None)
@given(args=staged_replays())
def test_compiled_replay_is_the_python_replay_on_random_layouts(args):
    with pytest.MonkeyPatch.context() as mp:
        py, cc = _both_cores(mp, lambda: admission.replay(*args))
    assert py == cc


@needs_compiled
def test_compiled_replay_is_the_python_replay_on_hand_made_clusters(monkeypatch):
    cl = two_chains()
    pairs = [(SHORT, OUT), (LONG, OUT)] * 50
    kv = {"a1": 40_000.0, "a2": 40_000.0, "c1": 6_000.0, "c2": 20_000.0}
    flows = {"a1": 3e6, "c1": 3e6, "a2": 1e6, "c2": 1e6}
    py, cc = _both_cores(
        monkeypatch, lambda: model(cl, pairs, kv, flows).estimate([0, 0, 2, 2], [2, 2, 2, 2])
    )
    assert py.detail["replay"] == cc.detail["replay"] and py.detail["replay"].rejected_share > 0.3
    assert (py.throughput, py.in_flight, py.rtt) == (cc.throughput, cc.in_flight, cc.rtt)


@needs_compiled
def test_compiled_replay_is_the_python_replay_on_validation_layouts(monkeypatch, artifact_dir):
    """The validation's estimate (scheduler routing, class platoons, the replay on the artifact's
    trace) of the layouts the validation rule makes on a two-region cluster."""
    from test_sim_kit import traces
    from two_regions import GPUS, two_regions

    from helix.models import load_hf_config
    from helix.placement.api import make_problem
    from helix.placement.settings import PlacementPreset
    from helix.planning.validation import _vectors, candidate_layouts, validation_model
    from helix.profiles.entry import model_profiles
    from helix.profiles.store import ProfileStore

    model_ = load_hf_config(
        artifact_dir / "artifact_evaluation/single_cluster/models/llama30b/config.json", "llama30b"
    )
    profiles = model_profiles(model_, GPUS, ProfileStore.from_artifact(artifact_dir), source="test gpus")
    problem = make_problem(
        two_regions(), model_, "llama30b", PlacementPreset(), profiles, artifact_dir, "two-regions"
    )
    sm = validation_model(problem, traces()[0])
    compared = 0
    for _, _, layout in candidate_layouts(problem, None, {}, seed=0):
        st_, sz = _vectors(problem.cluster, layout)
        if any(k > len(problem.table(i)) for i, k in enumerate(sz)):
            continue
        py, cc = _both_cores(monkeypatch, lambda: sm.estimate(st_, sz))
        assert py.throughput == cc.throughput and py.detail.get("replay") == cc.detail.get("replay")
        assert py.detail.get("decode_replay") == cc.detail.get("decode_replay")  # the decode loop's too
        compared += py.detail.get("replay") is not None and py.detail.get("decode_replay") is not None
    assert compared >= 3


def test_a_stale_replay_build_is_never_used(monkeypatch):
    """The compiled copy carries the hash of the sources it was built from; another hash: Python."""
    monkeypatch.setattr(admission, "loop_source_hash", lambda: "0" * 64)
    monkeypatch.delenv("HELIX_REPLAY_CORE", raising=False)
    assert admission.compiled_core() is None
    assert admission.replay_core() is admission.py_loop
    monkeypatch.setenv("HELIX_REPLAY_CORE", "compiled")
    with pytest.raises(HelixRunError, match="missing or stale"):
        admission.replay_core()


def test_replay_core_switch(monkeypatch):
    monkeypatch.setenv("HELIX_REPLAY_CORE", "python")
    assert admission.replay_core() is admission.py_loop
    monkeypatch.setenv("HELIX_REPLAY_CORE", "fast")
    with pytest.raises(HelixInputError, match="HELIX_REPLAY_CORE"):
        admission.replay_core()
    monkeypatch.setenv("HELIX_REPLAY_CORE", "auto")
    assert admission.replay_core() is (admission.compiled_core() or admission.py_loop)
