"""helix.scheduling.preflow against networkx: the same max flow, arc by arc, bit for bit.

The served estimate routes by the flow the helix scheduler's solver finds (networkx's preflow-push,
helix.scheduling.flowgraph.solve); max flows are not unique, so its list-based copy must find that
very flow. The oracle is networkx itself, on random graphs made to have many maximum flows (ties
of capacity, parallel paths, arcs both ways, zero capacities, a self-loop) and on random scheduler
topologies (layer ranges, links, NICs, node capacities) through both ``solve`` functions.
"""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helix.scheduling import flowgraph, preflow
from helix.scheduling.base import LinkView, NodeView, Topology

CAPS = st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, 2.5, 1e9, 0.1])


@st.composite
def graphs(draw):
    """A layered graph (source, stages of parallel vertices, sink: many maximum flows, many active
    vertices of one height, as on a placement) plus a few random arcs, listed in a random order."""
    widths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))
    n = 2 + sum(widths)
    stages, v = [[0]], 2
    for w in widths:
        stages.append(list(range(v, v + w)))
        v += w
    stages.append([1])
    arcs = []
    for a, b in zip(stages, stages[1:]):
        for u in a:
            for x in b:
                if draw(st.integers(0, 3)):
                    arcs.append((u, x, draw(CAPS)))
    arcs += draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), CAPS), max_size=8))
    arcs = draw(st.permutations(arcs))
    return n, arcs, 0, 1


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_preflow_push_is_networkx(case):
    n, arcs, s, t = case
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for u, v, c in arcs:
        g.add_edge(u, v, capacity=c)
    edges = [(u, v, d["capacity"]) for u, v, d in g.edges(data=True)]
    try:
        value, flow = nx.maximum_flow(g, s, t)
    except Exception as exc:  # networkx fails on some graphs (an arc into the source): so must we
        with pytest.raises(type(exc)):
            preflow.preflow_push(n, edges, s, t)
        return
    mine, per_edge = preflow.preflow_push(n, edges, s, t)
    assert mine == value and type(mine) is type(value)
    assert per_edge == [float(flow[u][v]) for u, v, _ in edges]


@st.composite
def topologies(draw):
    L = draw(st.integers(2, 8))
    n_nodes = draw(st.integers(1, 14))
    nodes, caps = {}, {}
    for q in range(n_nodes):
        uid = 2 + q
        a = draw(st.integers(0, L - 1))
        b = draw(st.integers(a + 1, L))
        nic = draw(st.sampled_from([1e9, 2e9, 10e9]))
        nodes[uid] = NodeView(uid, f"m{q}", "A100", a, b, nic, draw(st.sampled_from([1e9, 10e9])), 0)
        caps[uid] = draw(st.sampled_from([50.0, 100.0, 100.0, 250.0, 0.0]))
    links = []
    pairs = [(0, u) for u in nodes if nodes[u].start == 0]
    pairs += [(u, v) for u in nodes for v in nodes if u != v and nodes[v].start == nodes[u].end]
    pairs += [(u, 1) for u in nodes if nodes[u].end == L]
    for src, dst in pairs:
        if draw(st.integers(0, 5)):  # most links exist
            bw = draw(st.sampled_from([12.5e6, 1.25e9, 1.25e9, 10e9]))
            links.append(LinkView(len(links), src, dst, bw, 0.001))
    return Topology(L, nodes, links, token_size=2, activation_size=16384), caps


@settings(max_examples=200, deadline=None)
@given(topologies())
def test_scheduler_graph_solve_is_networkx(case):
    topo, caps = case
    assert preflow.solve(topo, caps) == flowgraph.solve(topo, caps)
