"""Request schedulers: registry, helix max-flow + IWRR + KV expectation, the hop-by-hop rules."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from helix.artifact.simulator_cluster import read_simulator_cluster
from helix.errors import HelixInputError
from helix.profiles.entry import paper_profiles
from helix.profiles.typical import TypicalThroughput
from helix.scheduling import make_scheduler, scheduler_names
from helix.scheduling.base import SINK_ID, SOURCE_ID, LinkView, NodeView, Topology
from helix.scheduling.flowgraph import solve
from helix.scheduling.swarm import EPSILON, GAMMA
from helix.sim.pipeline import load_model, paper_ranges
from helix.sim.run import prepare

from test_sim_kit import store


def test_registry():
    assert scheduler_names() == ["helix", "random", "shortest_queue", "swarm"]
    with pytest.raises(HelixInputError, match="unknown scheduler"):
        make_scheduler("fifo", Topology(2, {}, []))


def _topo(kv=10**9, prompt_max=2048):
    """source -> {2, 3} -> sink, one layer each side... 2 and 3 hold the whole 2-layer model."""
    nodes = {u: NodeView(u, f"n{u}", "A100", 0, 2, 10e9, 10e9, kv, prompt_max) for u in (2, 3)}
    links = [
        LinkView(0, SOURCE_ID, 2, 1e9, 1e-3),
        LinkView(1, SOURCE_ID, 3, 1e9, 1e-3),
        LinkView(2, 2, SINK_ID, 1e9, 1e-3),
        LinkView(3, 3, SINK_ID, 1e9, 1e-3),
    ]
    return Topology(2, nodes, links)


def _query(inp=100):
    return SimpleNamespace(input=inp, output=10, route=[])


def _req(q, prompt=True):
    return SimpleNamespace(query=q, prompt=prompt, hop=0, ntok=q.input if prompt else 1, oseq=-1, sent_at=0.0)


def test_iwrr_follows_flow_proportions_and_ties_go_to_lower_index():
    topo = _topo()
    s = make_scheduler("helix", topo, node_capacity={2: 1, 3: 1}, flows=[300.0, 100.0, 300.0, 100.0])
    first = _query()
    assert s.on_new_request(_req(first), 0.0)
    assert first.route[0][0] == 0  # equal loads: the lower link index wins
    picks = [first.route[0][1]]
    for _ in range(399):
        q = _query()
        s.on_new_request(_req(q), 0.0)
        picks.append(q.route[0][1])
    assert picks.count(2) == 300 and picks.count(3) == 100
    assert [st[1] for st in first.route] == [2, SINK_ID]


def test_low_flow_links_are_masked():
    s = make_scheduler("helix", _topo(), node_capacity={2: 1, 3: 1}, flows=[1000.0, 40.0, 1000.0, 40.0])
    for _ in range(50):
        q = _query()
        s.on_new_request(_req(q), 0.0)
        assert q.route[0][1] == 2  # 40 < 5 % of 1040


def test_decodes_add_unit_weight_along_their_route():
    s = make_scheduler("helix", _topo(), node_capacity={2: 1, 3: 1}, flows=[100.0, 100.0, 100.0, 100.0])
    q = _query(50)
    s.on_new_request(_req(q), 0.0)
    before = list(s.loads)
    s.on_new_request(_req(q, prompt=False), 0.0)
    assert s.loads[0] == pytest.approx(before[0] + 1 / 100.0) and s.loads[2] == pytest.approx(
        before[2] + 1 / 100.0
    )
    assert s.loads[1] == before[1]


def test_kv_expectation_rejects_offline_and_undoes_loads():
    # each node holds 2 layers; expected length int(1000 + 240) * 2 layers = 2480 slots
    s = make_scheduler(
        "helix",
        _topo(kv=20000),
        node_capacity={2: 1, 3: 1},
        mode="offline",
        flows=[100.0, 100.0, 100.0, 100.0],
    )
    accepted = 0
    while True:
        q = _query(1000)
        if not s.on_new_request(_req(q), 0.0):
            break
        accepted += 1
    # avail - 2480 >= 0.15 * 20000 = 3000 holds 6 times per node
    assert accepted == 12
    loads = list(s.loads)
    assert not s.on_new_request(_req(_query(1000)), 0.0)
    assert s.loads == loads
    assert s.kv_bottleneck() == pytest.approx(1 - (20000 - 6 * 2480) / 20000)


def test_online_all_masked_is_an_error():
    s = make_scheduler(
        "helix", _topo(prompt_max=64), node_capacity={2: 1, 3: 1}, mode="online", flows=[100.0] * 4
    )
    with pytest.raises(HelixInputError, match="masked"):
        s.on_new_request(_req(_query(100)), 0.0)


def test_helix_bandwidth_is_flow_share_of_nics():
    topo = _topo()
    topo.coord_out = 1e9  # the source NIC is shared by its two links in proportion to their flow
    s = make_scheduler("helix", topo, node_capacity={2: 1, 3: 1}, flows=[300.0, 100.0, 300.0, 100.0])
    assert s.bandwidth[0] == 750e6 and s.bandwidth[1] == 250e6
    assert s.bandwidth[2] == 1e9  # node NIC 10 GB/s, the link is the limit


def test_paper_flow_graph_max_flow(artifact_dir):
    """docs/design/simulator.md s5.2.1: 1289.56 tok/s on the single24 70B layout (= the MILP objective)."""
    root = artifact_dir / "artifact_evaluation/single_cluster/layout_llama70b/ilp"
    model = load_model(
        "llama70b", artifact_dir / "artifact_evaluation/single_cluster/models/llama70b/config.json", 1.53e9
    )
    sc = read_simulator_cluster(root / "simulator_cluster.ini")
    prep = prepare(model, sc, paper_ranges(root / "ilp_sol.ini", 80), store())
    tt = TypicalThroughput(paper_profiles("llama70b", store()), {"A100": 4, "L4": 8, "T4": 12})
    cap = {u: tt.tau(n.gpu, n.layers) for u, n in prep.topo.nodes.items()}
    value, flows = solve(prep.topo, cap)
    assert value == pytest.approx(1289.56, abs=0.01)
    into_sink = sum(flows[l.uid] for l in prep.topo.links if l.dst == SINK_ID)
    assert into_sink == pytest.approx(value)


class _Net:
    def __init__(self, topo):
        self.topo = topo
        self.now = 0.0
        self.free = {l.uid: l.bandwidth for l in topo.links}
        self.queue = {}

    def link_sending(self, j):
        return self.free[j] < self.topo.links[j].bandwidth

    def link_free_bw(self, j):
        return self.free[j]

    def nic_out_free(self, u):
        return 10e9

    def nic_in_free(self, u):
        return 10e9

    def first_queue_len(self, u):
        return self.queue.get(u, 0)


def test_random_picks_among_idle_links_only():
    topo = _topo()
    net = _Net(topo)
    s = make_scheduler("random", topo, rng=random.Random(0))
    seen = set()
    for _ in range(40):
        q = _query()
        picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(q)}, net)
        seen.add(picks[0][0])
    assert seen == {0, 1}
    net.free[1] = 0.0  # link 1 busy: always link 0
    for _ in range(10):
        picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(_query())}, net)
        assert picks[0][0] == 0
    # two waiting prompts, two idle links: one request per link per call
    net.free[1] = 1e9
    picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(_query()), 2: _req(_query())}, net)
    assert sorted(p[0] for p in picks) == [0, 1]


def test_shortest_queue_waits_for_the_shortest():
    topo = _topo()
    net = _Net(topo)
    net.queue = {2: 5, 3: 1}
    s = make_scheduler("shortest_queue", topo, rng=random.Random(0))
    picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(_query())}, net)
    assert picks[0][0] == 1
    net.free[1] = 0.0  # the shortest is busy: wait
    picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(_query())}, net)
    assert picks == []


def test_swarm_stride_and_ema_feedback():
    topo = _topo()
    net = _Net(topo)
    s = make_scheduler("swarm", topo, rng=random.Random(0))
    q1, q2 = _query(), _query()
    picks, _ = s.pick_transmissions(SOURCE_ID, {1: _req(q1), 2: _req(q2)}, net)
    assert [p[0] for p in picks] == [0, 1]  # equal priorities: smaller link id first, then the other
    # a request that reached node 2 reports its hop time to the source's link 0
    r = _req(q1)
    r.hop, r.sent_at = 1, 0.0
    net.now = 2.0
    _, repoll = s.pick_transmissions(2, {1: r}, net)
    assert repoll == [SOURCE_ID]
    assert s.ema[0] == pytest.approx(GAMMA * 2.0 + (1 - GAMMA) * EPSILON)
