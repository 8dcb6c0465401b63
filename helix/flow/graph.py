"""The flow graph of a layout on a cluster (docs/design/placement.md sections 1, 2 and 5).

Vertices: the coordinator as ``source`` and ``sink``, and every machine that holds layers, with
capacity c_i(k_i) tokens/s for the k_i layers it holds. Arcs exist only where a layer range hands
over exactly to the next one (no partial inference, docs/design/placement.md trap 3):
``source -> i`` if s_i == 0, ``i -> sink`` if e_i == L, ``i -> j`` if e_i == s_j, each only where
the cluster has that link. Arc capacity is bandwidth / bytes per token: the token id (2 B) on
coordinator links, the hidden state (hidden * 2 B) between machines (docs/design/placement.md trap 1). Each
undirected compute link yields both directions.

:class:`FlowContext` precomputes the per-pair capacities of one (cluster, model) so that the
planner can score a candidate layout with :meth:`FlowContext.value` without building dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from helix.cluster import SINK, SOURCE, Cluster
from helix.errors import HelixInputError
from helix.flow.maxflow import FlowResult, dinic, max_flow
from helix.layout import Layout


@dataclass
class FlowGraph:
    """Machine-level flow graph; :func:`helix.flow.maxflow.max_flow` splits nodes internally."""

    num_layers: int
    machines: list[str]  # machines that hold layers, in cluster order
    node_capacity: dict[str, float]  # tokens/s for the layers each holds
    arcs: list[tuple[str, str, float]] = field(default_factory=list)  # (from, to, tokens/s)

    def arc_capacity(self) -> dict[tuple[str, str], float]:
        return {(u, v): c for u, v, c in self.arcs}


class FlowContext:
    """Arc capacities of one cluster for one model, indexed by machine position."""

    def __init__(self, cluster: Cluster, activation_bytes: float, token_bytes: float, num_layers: int):
        self.cluster = cluster
        self.names = [m.name for m in cluster.machines]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.num_layers = int(num_layers)
        n = len(self.names)
        self.source_cap = [0.0] * n
        self.sink_cap = [0.0] * n
        self.link_cap = [[0.0] * n for _ in range(n)]
        for link in cluster.links:
            a, b = link.a, link.b
            if a == SOURCE or b == SOURCE:
                self.source_cap[self.index[b if a == SOURCE else a]] = link.bandwidth / token_bytes
            elif a == SINK or b == SINK:
                self.sink_cap[self.index[b if a == SINK else a]] = link.bandwidth / token_bytes
            else:
                i, j = self.index[a], self.index[b]
                self.link_cap[i][j] = self.link_cap[j][i] = link.bandwidth / activation_bytes
        # Smallest capacity over every coordinator link and every machine pair (0 if one is missing).
        # When no machine can carry more than this, no arc can bind, and the machines that end at a
        # boundary and those that start there act as one hub: the max-flow equals that of the much
        # smaller "boundary graph" (vertices = layer boundaries, one arc s_i -> e_i per machine).
        pair_min = min(
            (self.link_cap[i][j] for i in range(n) for j in range(n) if i != j), default=float("inf")
        )
        self.network_floor = min(pair_min, min(self.source_cap, default=0.0), min(self.sink_cap, default=0.0))

    @classmethod
    def for_model(cls, cluster: Cluster, model) -> "FlowContext":
        return cls(cluster, model.activation_bytes_per_token, model.token_bytes, model.num_layers)

    # ----- index-level API used by the planner ---------------------------------------------
    def _arrays(self, starts: Sequence[int], ends: Sequence[int], caps: Sequence[float]):
        """Vertex/arc arrays for used machines (ends[i] > starts[i]); arcs after node arcs."""
        L = self.num_layers
        used = [i for i in range(len(starts)) if ends[i] > starts[i]]
        pos = {i: p for p, i in enumerate(used)}
        by_start: dict[int, list[int]] = {}
        for i in used:
            by_start.setdefault(starts[i], []).append(i)
        tails, heads, cap = [], [], []
        for p, i in enumerate(used):
            tails.append(2 + 2 * p)
            heads.append(3 + 2 * p)
            cap.append(caps[i])
        arcs: list[tuple[int, int]] = []  # (i or -1 for source, j or -2 for sink)
        for i in used:
            if starts[i] == 0 and self.source_cap[i] > 0:
                tails.append(0)
                heads.append(2 + 2 * pos[i])
                cap.append(self.source_cap[i])
                arcs.append((-1, i))
            e = ends[i]
            if e == L:
                if self.sink_cap[i] > 0:
                    tails.append(3 + 2 * pos[i])
                    heads.append(1)
                    cap.append(self.sink_cap[i])
                    arcs.append((i, -2))
                continue
            row = self.link_cap[i]
            for j in by_start.get(e, ()):
                c = row[j]
                if c > 0:
                    tails.append(3 + 2 * pos[i])
                    heads.append(2 + 2 * pos[j])
                    cap.append(c)
                    arcs.append((i, j))
        return used, tails, heads, cap, arcs

    def value(self, starts: Sequence[int], ends: Sequence[int], caps: Sequence[float]) -> float:
        """Max-flow value of the layout given per machine (start, end, capacity)."""
        if max(caps, default=0.0) <= self.network_floor:
            return self._boundary_value(starts, ends, caps)
        used, tails, heads, cap, arcs = self._arrays(starts, ends, caps)
        if not arcs:
            return 0.0
        return dinic(2 + 2 * len(used), tails, heads, cap, 0, 1)[0]

    def _boundary_value(self, starts, ends, caps) -> float:
        """Max-flow on the boundary graph; exact when no arc can bind (see ``network_floor``)."""
        merged: dict[tuple[int, int], float] = {}
        for s, e, c in zip(starts, ends, caps):
            if e > s and c > 0:
                merged[(s, e)] = merged.get((s, e), 0.0) + c
        vid: dict[int, int] = {0: 0, self.num_layers: 1}
        tails, heads, cap = [], [], []
        for (s, e), c in merged.items():
            tails.append(vid.setdefault(s, len(vid)))
            heads.append(vid.setdefault(e, len(vid)))
            cap.append(c)
        if not cap:
            return 0.0
        return dinic(len(vid), tails, heads, cap, 0, 1)[0]

    def graph(self, starts: Sequence[int], ends: Sequence[int], caps: Sequence[float]) -> FlowGraph:
        used, _, _, cap, arcs = self._arrays(starts, ends, caps)
        names = self.names
        out = []
        for p, (i, j) in enumerate(arcs):
            u = SOURCE if i == -1 else names[i]
            v = SINK if j == -2 else names[j]
            out.append((u, v, cap[len(used) + p]))
        return FlowGraph(
            num_layers=self.num_layers,
            machines=[names[i] for i in used],
            node_capacity={names[i]: float(caps[i]) for i in used},
            arcs=out,
        )


def capacities_for(
    cluster: Cluster, layout: Layout, tables: Mapping[str, Sequence[float]], clamp: bool = False
) -> dict[str, float]:
    """c_i(k_i) per used machine from tables keyed by machine name or GPU type (index k-1).

    ``clamp`` uses the K-layer entry for machines holding more than K layers, as the paper's
    simulator does for its hand-written "separate" files (docs/design/placement.md section 6); otherwise
    holding more than K layers is an error.
    """
    out: dict[str, float] = {}
    for m in cluster.machines:
        rng = layout.ranges.get(m.name)
        if rng is None:
            continue
        table = tables.get(m.name, tables.get(m.gpu))
        if table is None:
            raise HelixInputError(
                f"layout on {cluster.name}", f"layers.{m.name}", "no capacity table for GPU type", m.gpu
            )
        k = rng[1] - rng[0]
        if k > len(table):
            if not clamp:
                raise HelixInputError(
                    f"layout on {cluster.name}",
                    f"layers.{m.name}",
                    f"{m.gpu} holds at most {len(table)} layers",
                    k,
                )
            k = len(table)
        out[m.name] = float(table[k - 1])
    return out


def _starts_ends(cluster: Cluster, layout: Layout) -> tuple[list[int], list[int]]:
    starts, ends = [], []
    for m in cluster.machines:
        rng = layout.ranges.get(m.name)
        starts.append(rng[0] if rng else 0)
        ends.append(rng[1] if rng else 0)
    return starts, ends


def build_flow_graph(cluster: Cluster, layout: Layout, model, capacities: Mapping[str, float]) -> FlowGraph:
    """Flow graph of ``layout`` on ``cluster``; ``capacities`` maps used machines to c_i(k_i)."""
    if layout.num_layers != model.num_layers:
        raise HelixInputError(
            f"layout on {cluster.name}",
            "num_layers",
            f"layout is for a {layout.num_layers}-layer model, {model.name} has {model.num_layers}",
        )
    layout.validate(cluster)
    ctx = FlowContext.for_model(cluster, model)
    starts, ends = _starts_ends(cluster, layout)
    caps = [
        float(capacities.get(name, 0.0)) if ends[i] > starts[i] else 0.0 for i, name in enumerate(ctx.names)
    ]
    for i, name in enumerate(ctx.names):
        if ends[i] > starts[i] and name not in capacities:
            raise HelixInputError(
                f"layout on {cluster.name}", f"layers.{name}", "no capacity given for a used machine"
            )
    return ctx.graph(starts, ends, caps)


def layout_max_flow(
    cluster: Cluster, layout: Layout, model, tables: Mapping[str, Sequence[float]], clamp: bool = False
) -> FlowResult:
    """Convenience: capacities from per-type (or per-machine) tables, graph, max-flow."""
    caps = capacities_for(cluster, layout, tables, clamp=clamp)
    return max_flow(build_flow_graph(cluster, layout, model, caps))
