"""Schedulers that read time or queue state, run inside the real event loop (not a fake net).

Swarm reads the host's clock for its hop-time averages, shortest-queue reads first-layer queue
lengths, helix keeps a KV expectation updated at prompt routing and query end. Each test runs the
real :class:`~helix.sim.engine.Simulator` and checks the state the scheduler built against values
worked out by hand or recounted from the run's own queries.
"""

from __future__ import annotations

import math
import random

import pytest

from helix.artifact.simulator_cluster import read_simulator_cluster
from helix.scheduling import SCHEDULERS, make_scheduler
from helix.scheduling.base import SINK_ID, SOURCE_ID, LinkView, NodeView, Topology
from helix.scheduling.swarm import EPSILON, GAMMA, SwarmScheduler
from helix.sim.engine import CPU_BUFFER_COST, NodeExec, Simulator
from helix.sim.pipeline import load_model, paper_ranges
from helix.sim.paper import paper_files
from helix.sim.run import simulate
from helix.sim.settings import WorkloadSpec

from test_sim import run
from test_sim_kit import store, tiny_model, traces

ACT = 16384
LAT = 1e-3


def _two_way(prompt_s, decode_s, max_prompts=4):
    """source -> {2, 3} -> sink, both nodes hold the whole one-layer model; constant step times."""
    nodes = {u: NodeView(u, f"n{u}", "A100", 0, 1, 10e9, 10e9, 10**9, max_prompts * 2048) for u in (2, 3)}
    links = [
        LinkView(0, SOURCE_ID, 2, 1e9, LAT),
        LinkView(1, SOURCE_ID, 3, 1e9, LAT),
        LinkView(2, 2, SINK_ID, 1e9, LAT),
        LinkView(3, 3, SINK_ID, 1e9, LAT),
    ]
    topo = Topology(1, nodes, links, token_size=2, activation_size=ACT)

    def pt(n):
        return prompt_s if n else 0.0

    def dt(n):
        return decode_s * n / 2  # doubled by the engine for a single token: decode_s per token

    execs = {u: NodeExec(pt, dt, max_prompts, max_prompts * 2048, 64, 64000) for u in (2, 3)}
    return topo, execs


class _Recording(SwarmScheduler):
    """The real swarm scheduler; also notes the host clock at every poll."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.polls = []

    def pick_transmissions(self, uid, outbound, net):
        self.polls.append((uid, net.now))
        return super().pick_transmissions(uid, outbound, net)


def test_swarm_hop_times_in_the_real_loop_match_hand_computed_values():
    """One query (100-token prompt, 2 decodes) over source -> n2 -> sink; each EMA step by hand."""
    topo, execs = _two_way(prompt_s=0.1, decode_s=0.02)
    sched = _Recording(topo, rng=random.Random(0), fast_chain=False)
    sim = Simulator(topo, execs, sched, 0.0, (0.0, 100.0))
    res = sim.run(arrivals=[(0.0, 100, 2)])
    q = res.queries[0]
    assert q.done == 2 and [s[0] for s in q.route] == [0, 2]  # ties in the stride heap: link 0
    cpu = ACT * CPU_BUFFER_COST
    # prompt: sent at 0, lands after 200 B at 1 GB/s + latency, one 0.1 s layer + CPU-buffer copy
    ready_p = ((0.0 + 200 / 1e9) + LAT) + (0.1 + 100 * cpu)
    gathered = (ready_p + 200 / 1e9) + LAT  # to the sink (2 B per token)
    ema = GAMMA * ready_p + (1 - GAMMA) * EPSILON
    assert sched.ema[0] != EPSILON
    polls_at_n2 = [t for u, t in sched.polls if u == 2]
    assert polls_at_n2[0] == pytest.approx(ready_p, rel=1e-12)
    for i in range(2):  # each decode: sent when the previous iteration was gathered
        ready_d = ((gathered + 2 / 1e9) + LAT) + (0.02 + cpu)
        assert polls_at_n2[i + 1] == pytest.approx(ready_d, rel=1e-12)
        ema = GAMMA * (ready_d - gathered) + (1 - GAMMA) * ema
        gathered = (ready_d + 2 / 1e9) + LAT
    assert sched.ema[0] == pytest.approx(ema, rel=1e-9)
    assert (
        sched.ema[1] == EPSILON and sched.ema[2] == EPSILON
    )  # unused link; links into the sink get no feedback
    # the clock the scheduler read never went backwards and ended at the last gather
    times = [t for _, t in sched.polls]
    assert times == sorted(times) and len(set(times)) >= 6
    assert res.decode[-2] == pytest.approx(gathered, rel=1e-12)


def test_swarm_prefers_the_link_with_the_shorter_hop_time():
    """n2 is 10x slower than n3: once both have reported, the stride heap sends most prompts to n3."""
    topo, execs = _two_way(prompt_s=0.1, decode_s=0.01)
    slow = execs[2]
    execs[2] = NodeExec(
        lambda n: 1.0 if n else 0.0, lambda n: 0.05 * n, slow.max_prompts, slow.max_prompt_tokens, 64, 64000
    )
    sched = make_scheduler("swarm", topo, rng=random.Random(0), fast_chain=False)
    sim = Simulator(topo, execs, sched, 0.0, (0.0, 1000.0))
    res = sim.run(arrivals=[(2.0 * i, 100, 1) for i in range(40)])
    firsts = [q.route[0][1] for q in res.queries]
    assert sched.ema[0] > 5 * sched.ema[1] > 0
    assert firsts[10:].count(3) >= 3 * firsts[10:].count(2)


class _SQRecording:
    """Wraps the real shortest-queue choice, noting the queue lengths it read and what it chose."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def __call__(self, uid, req, free, taken, net):
        lens = {u: net.first_queue_len(u) for u in (2, 3)}
        j = self.inner(uid, req, free, taken, net)
        if uid == SOURCE_ID:  # (the nodes' only way on is the sink)
            self.seen.append((net.now, lens, j))
        return j


def test_shortest_queue_reads_queues_that_include_requests_landed_on_a_busy_node():
    """Prompts at t = 0, 1, 2, 3 onto two nodes busy 10 s per prompt (one prompt per batch): at each
    decision a node's first-layer queue holds every earlier prompt sent to it but the one running."""
    topo, execs = _two_way(prompt_s=10.0, decode_s=0.01, max_prompts=1)
    sched = make_scheduler("shortest_queue", topo, rng=random.Random(1), fast_chain=False)
    rec = _SQRecording(sched.choose_prompt)
    sched.choose_prompt = rec
    sim = Simulator(topo, execs, sched, 0.0, (0.0, 1000.0))
    res = sim.run(arrivals=[(float(i), 100, 1) for i in range(4)])
    assert len(rec.seen) == 4
    sent = {2: 0, 3: 0}
    unequal = 0
    for now, lens, j in rec.seen:
        assert now < 10.0
        assert lens == {u: max(0, n - 1) for u, n in sent.items()}, (now, lens, sent)
        dst = topo.links[j].dst
        assert lens[dst] == min(lens.values())
        unequal += len(set(lens.values())) > 1
        sent[dst] += 1
    assert unequal >= 1  # at least one decision was forced by the queue lengths
    assert all(q.done == 1 for q in res.queries)


def test_helix_kv_expectation_matches_the_queries_in_flight(artifact_dir):
    """After a real offline run, each node's expected-KV headroom is its capacity minus the
    expectation of every admitted, unfinished query routed through it (recounted from the queries)."""
    env = (tiny_model(), store(), traces())
    out = run(env, "helix", "offline", duration_s=30)
    sched, queries = out.sim.sched, out.result.queries
    assert any(math.isnan(q.finish) and q.route for q in queries) and any(
        not math.isnan(q.finish) for q in queries
    )
    for u, cap in sched.kv_cap.items():
        held = sum(
            q.kv_expect * (e - s)
            for q in queries
            if q.kv_expect is not None and math.isnan(q.finish)
            for _, v, s, e in q.route
            if v == u
        )
        assert sched.kv_avail[u] == pytest.approx(cap - held, abs=1e-6)
    assert out.sim.sched.kv_bottleneck() <= 1.0


@pytest.mark.slow
def test_swarm_hop_times_on_the_papers_70b_layout(artifact_dir, monkeypatch):
    """The paper's single24 70B Swarm layout, online, 120 s: every hop sample is a positive time no
    longer than the latency of the iteration that made it, and each link's average stays within the
    range of its samples (with the 0.05 s seed)."""
    per_iter, per_link = {}, {}

    class Checked(SwarmScheduler):
        def pick_transmissions(self, uid, outbound, net):
            if uid != SOURCE_ID:
                for r in outbound.values():
                    if r.oseq != r.hop:  # about to report the hop into this node
                        sample = net.now - r.sent_at
                        assert sample > 0
                        per_iter.setdefault(id(r), [r, 0.0])[1] += sample
                        per_link.setdefault(r.query.route[r.hop - 1][0], []).append(sample)
            return super().pick_transmissions(uid, outbound, net)

    SCHEDULERS.get("swarm")  # load the registry, then put the checking subclass in swarm's place
    monkeypatch.setitem(SCHEDULERS._members, "swarm", Checked)
    model = load_model(
        "llama70b", artifact_dir / "artifact_evaluation/single_cluster/models/llama70b/config.json", 1.53e9
    )
    sol, graph = paper_files(artifact_dir, "single24", "llama70b", "paper-swarm")
    lengths, counts = traces()
    spec = WorkloadSpec(mode="online", rate_tps=350, duration_s=120)
    out = simulate(
        model, read_simulator_cluster(graph), paper_ranges(sol, 80), store(), "swarm", spec, lengths, counts
    )
    assert len(per_iter) > 1000
    for r, total in per_iter.values():  # online runs to exhaustion: every iteration was gathered
        q = r.query
        assert total <= (q.prompt_lat if r.prompt else q.dec_max) + 1e-9
    ema = out.sim.sched.ema
    assert len(per_link) >= 20
    for j, xs in per_link.items():
        assert min(xs + [EPSILON]) - 1e-12 <= ema[j] <= max(xs + [EPSILON]) + 1e-12
        assert ema[j] != EPSILON
