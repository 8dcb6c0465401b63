"""Cluster pruning of docs/design/placement.md section 3, reproduced exactly, plus an option
that keeps the warm start.

The authors pruned complete graphs before building the MILP so it has fewer switch binaries: keep
each coordinator endpoint's ``min_keep`` fastest links and each machine's ``min_keep`` fastest
compute links (union over both endpoints). Tie-breaks matter when links are equal (docs/design/placement.md
trap 5): coordinator links prefer the larger node index, compute links the lexicographically larger
``Link-a-b`` name. With all 42-node links equal this keeps source/sink links of nodes 30-41 only,
which destroys the Swarm warm start (its max-flow drops to 0); ``keep_arcs`` lets the planner
always keep the arcs a warm-start layout uses (section 11f).
"""

from __future__ import annotations

from collections.abc import Iterable

from helix.cluster import SINK, SOURCE, Cluster


def prune_cluster(
    cluster: Cluster,
    min_keep: int = 12,
    max_keep: int = 12,
    threshold: float = 0.0,
    keep_arcs: Iterable[tuple[str, str]] = (),
) -> Cluster:
    """A copy of ``cluster`` with only the surviving links (node index = position in cluster)."""
    index = cluster.index()
    src, snk, compute = [], [], []
    for link in cluster.links:
        if SOURCE in (link.a, link.b):
            src.append(link)
        elif SINK in (link.a, link.b):
            snk.append(link)
        else:
            compute.append(link)

    def node_of(link):
        return link.b if link.a in (SOURCE, SINK) else link.a

    def coord_keep(links, strict: bool):
        order = sorted(links, key=lambda l: (-l.bandwidth, -index[node_of(l)]))
        kept = order[:min_keep]
        for l in order[min_keep:max_keep]:
            if (l.bandwidth > threshold) if strict else (l.bandwidth >= threshold):
                kept.append(l)
        return kept

    def name(link) -> str:
        a, b = sorted((index[link.a], index[link.b]))
        return f"Link-{a}-{b}"

    incident: dict[str, list] = {m.name: [] for m in cluster.machines}
    for l in compute:
        incident[l.a].append(l)
        incident[l.b].append(l)
    kept_compute: set[int] = set()
    for links in incident.values():
        # descending bandwidth, ties: descending link name; achieved by sorting on a reversed key
        order = sorted(links, key=lambda l: (l.bandwidth, name(l)), reverse=True)
        for r, l in enumerate(order):
            if r < min_keep or (r < max_keep and l.bandwidth >= threshold):
                kept_compute.add(id(l))

    keep_pairs = {frozenset(a) for a in keep_arcs}
    kept = (
        {id(l) for l in coord_keep(src, strict=True)}
        | {id(l) for l in coord_keep(snk, strict=False)}
        | kept_compute
    )
    links = [l for l in cluster.links if id(l) in kept or frozenset((l.a, l.b)) in keep_pairs]
    return Cluster(
        name=cluster.name,
        machines=list(cluster.machines),
        links=links,
        coordinator=cluster.coordinator,
        description=(
            f"{cluster.description} (pruned: keep {min_keep}/{max_keep}, threshold {threshold:g})"
        ).strip(),
    )
