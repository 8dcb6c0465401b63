"""The helix scheduler's flow graph and its max flow (docs/design/simulator.md s5.2.1).

Built exactly as the paper's scheduler builds it, because max flows are not unique and the IWRR
weights come from the per-link flows: vertices ``source``, ``sink``, then per compute node (by uid)
``u_in -> u_start -> u_end -> u_out``, then one arc per link (by link uid), solved with networkx's
default preflow-push on integer vertex labels (string labels make the flow depend on
``PYTHONHASHSEED``). Capacities are tokens/s; compute links carry token + activation bytes
(unlike the placement MILP, which counts activations only).

``solve`` is the one place that calls a max-flow routine, so another exact solver can be swapped in
where the flow decomposition does not need to match the paper's.
"""

from __future__ import annotations

import networkx as nx

from helix.scheduling.base import SINK_ID, SOURCE_ID, Topology


def _vin(uid: int) -> str:
    return f"{uid}_in"


def _vout(uid: int) -> str:
    return f"{uid}_out"


def build_graph(topo: Topology, node_capacity: dict[int, float]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_node("source")
    g.add_node("sink")
    bpt = topo.token_size
    bpa = topo.token_size + topo.activation_size
    g.add_edge("source", _vout(SOURCE_ID), capacity=topo.coord_out / bpt)
    g.add_edge(_vin(SINK_ID), "sink", capacity=topo.coord_in / bpt)
    for uid in sorted(topo.nodes):
        node = topo.nodes[uid]
        ins = [topo.links[i].src for i in topo.in_links[uid]]
        outs = [topo.links[i].dst for i in topo.out_links[uid]]
        s_in = bpt if ins and all(s == SOURCE_ID for s in ins) else bpa
        s_out = bpt if outs and all(d == SINK_ID for d in outs) else bpa
        g.add_edge(_vin(uid), f"{uid}_start", capacity=node.nic_in / s_in)
        g.add_edge(f"{uid}_start", f"{uid}_end", capacity=node_capacity[uid])
        g.add_edge(f"{uid}_end", _vout(uid), capacity=node.nic_out / s_out)
    for link in topo.links:
        g.add_edge(_vout(link.src), _vin(link.dst), capacity=link.bandwidth / topo.bytes_per_token(link))
    return g


def solve(topo: Topology, node_capacity: dict[int, float]) -> tuple[float, list[float]]:
    """Max flow value and the flow on every link (tokens/s), in link order."""
    g = build_graph(topo, node_capacity)
    # networkx's preflow-push keeps its active vertices in Python sets; with string names their
    # iteration order follows PYTHONHASHSEED, and so does the (non-unique) flow decomposition. Integer
    # labels, given in the graph's insertion order, hash to themselves: one flow for every seed.
    ids = {name: i for i, name in enumerate(g.nodes)}
    gi = nx.relabel_nodes(g, ids, copy=True)
    value, flow = nx.maximum_flow(gi, ids["source"], ids["sink"])
    per_link = [float(flow[ids[_vout(l.src)]][ids[_vin(l.dst)]]) for l in topo.links]
    return float(value), per_link
