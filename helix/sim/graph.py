"""The placement graph of one of our own layouts: what the paper's placement step writes as
``simulator_cluster.ini`` (docs/design/placement.md s5), built from a cluster and a layout.

Arcs: source -> every holder of layer 0; node i -> node j when j starts where i ends (and, with
``partial``, when j's range covers i's end mid-way, Petals' partial inference); holders of the last
layer -> sink. Then one pass drops arcs into nodes without an outgoing arc and one pass drops arcs
out of nodes without an incoming arc (single passes, as the paper). KV capacity of a node is
16 * B(k) * k slots for its layer count k (docs/design/simulator.md s2.3).
"""

from __future__ import annotations

from helix.artifact.simulator_cluster import SINK, SOURCE, SimLink, SimNode, SimulatorCluster
from helix.cluster import Cluster
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.profiles.entry import ModelProfiles


def graph_from_layout(
    cluster: Cluster,
    layout: Layout,
    profiles: ModelProfiles,
    gpus: dict,
    partial: bool = False,
    source: str = "layout",
) -> SimulatorCluster:
    L = layout.num_layers
    used = layout.used()
    nodes = []
    for m in cluster.machines:
        if m.name not in used:
            continue
        s, e = used[m.name]
        spec = gpus.get(m.gpu)
        if spec is None:
            raise HelixInputError(source, f"{m.name}.gpu", "GPU type not in the config's gpus", m.gpu)
        lim = profiles.limits(m.gpu)
        k = min(e - s, lim.K)
        nodes.append(
            SimNode(
                m.name,
                m.gpu,
                spec["vram_bytes"],
                spec["nic_in"],
                spec["nic_out"],
                spec["disk"],
                lim.kv_capacity(k) if e - s <= lim.K else lim.kv_capacity(lim.K),
            )
        )
    links_by_pair = {frozenset((l.a, l.b)): l for l in cluster.links}
    arcs: list[tuple[str, str]] = []
    for n in nodes:
        if used[n.name][0] == 0:
            arcs.append((SOURCE, n.name))
    for a in nodes:
        ea = used[a.name][1]
        for b in nodes:
            if a is b:
                continue
            sb, eb = used[b.name]
            if sb == ea or (partial and sb < ea < eb):
                arcs.append((a.name, b.name))
    for n in nodes:
        if used[n.name][1] == L:
            arcs.append((n.name, SINK))
    arcs = [(u, v) for u, v in arcs if frozenset((u, v)) in links_by_pair]
    has_out = {u for u, _ in arcs}
    arcs = [(u, v) for u, v in arcs if v == SINK or v in has_out]
    has_in = {v for _, v in arcs}
    arcs = [(u, v) for u, v in arcs if u == SOURCE or u in has_in]
    links = []
    for u, v in arcs:
        cl = links_by_pair[frozenset((u, v))]
        links.append(SimLink(f"link_{u}_{v}", u, v, cl.latency, cl.bandwidth))
    return SimulatorCluster(
        nodes,
        links,
        coord_in=cluster.coordinator.inbound_nic,
        coord_out=cluster.coordinator.outbound_nic,
        source=source,
    )
