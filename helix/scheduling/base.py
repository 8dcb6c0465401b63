"""The view a request scheduler works on, and the interface every scheduler implements.

Schedulers are shared by the simulator and the prototype's host, so they never see simulator
internals: they get a :class:`Topology` (nodes with their layer ranges and limits, directed links,
all with small integer ids) plus, at decision time, the few pieces of live state they need
(outbound requests of a sender, which links are still in their sending phase, free NIC
bandwidth, queue lengths), through the :class:`NetState` protocol that the host implements.

Ids follow docs/design/simulator.md s1: the source is node 0, the sink node 1, compute nodes 2, 3, ...; links
are numbered in the order of the placement graph file, which is also the tie-break order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

SOURCE_ID = 0
SINK_ID = 1


@dataclass
class NodeView:
    uid: int
    name: str
    gpu: str
    start: int  # first held layer
    end: int  # one past the last held layer
    nic_in: float  # bytes/s
    nic_out: float
    kv_capacity: int  # token x layer slots
    prompt_max_tokens: int = 0  # R * 2048 (docs/design/simulator.md s2.5)

    @property
    def layers(self) -> int:
        return self.end - self.start


@dataclass
class LinkView:
    uid: int  # index in the placement graph's link list
    src: int  # node uid (0 = source)
    dst: int  # node uid (1 = sink)
    bandwidth: float  # bytes/s
    latency: float  # s


@dataclass
class Topology:
    """Nodes (compute only) and directed links of one placement; coordinator NICs in bytes/s."""

    num_layers: int
    nodes: dict[int, NodeView]
    links: list[LinkView]
    coord_out: float = 10e9  # source outbound NIC
    coord_in: float = 10e9  # sink inbound NIC
    token_size: int = 2
    activation_size: int = 16384
    out_links: dict[int, list[int]] = field(default_factory=dict)
    in_links: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_links = {u: [] for u in [SOURCE_ID, SINK_ID, *self.nodes]}
        self.in_links = {u: [] for u in [SOURCE_ID, SINK_ID, *self.nodes]}
        for l in self.links:
            self.out_links[l.src].append(l.uid)
            self.in_links[l.dst].append(l.uid)

    def bytes_per_token(self, link: LinkView) -> int:
        """Source->node and node->sink carry tokens only; node->node also the activations."""
        if link.src == SOURCE_ID or link.dst == SINK_ID:
            return self.token_size
        return self.token_size + self.activation_size

    def nic_out(self, uid: int) -> float:
        return self.coord_out if uid == SOURCE_ID else self.nodes[uid].nic_out

    def nic_in(self, uid: int) -> float:
        return self.coord_in if uid == SINK_ID else self.nodes[uid].nic_in

    def stage_layers(self, link: LinkView) -> tuple[int, int]:
        """Layers the receiver of ``link`` runs: all of them from the source, else the suffix above
        the sender's last layer (Petals' partial arcs make the receiver start mid-range)."""
        v = self.nodes[link.dst]
        if link.src == SOURCE_ID:
            return v.start, v.end
        return self.nodes[link.src].end, v.end


class NetState(Protocol):
    """Live state a scheduler may read when it picks transmissions (implemented by the host)."""

    now: float

    def link_sending(self, link: int) -> bool: ...  # a transmission is in its sending phase

    def link_free_bw(self, link: int) -> float: ...

    def nic_out_free(self, uid: int) -> float: ...

    def nic_in_free(self, uid: int) -> float: ...

    def first_queue_len(self, uid: int) -> int: ...


class Scheduler:
    """Base class: decides routes and which waiting requests go on which link.

    Requests are iteration objects with at least ``query`` (holding ``route``: list of stages,
    ``input``, ``output``), ``prompt`` (bool), ``hop`` (index of the next stage) and ``ntok``.
    Hop-by-hop schedulers append to ``query.route`` as a prompt travels; decodes reuse it.
    """

    name = "base"
    plans_routes = False  # True: the whole route is fixed when the prompt enters (helix)
    feeds_on_prompt = False  # offline closed loop: also launch a query when a prompt finishes
    # (loads, weights) if a decode iteration is always accepted and only adds weights[j] to
    # loads[j] for each link j of its route, in route order (helix's IWRR, s5.2.4): the host may
    # then do that itself instead of calling on_new_request for every decode (the simulator's
    # compiled loop does; decodes are most of its calls). None: always call on_new_request.
    decode_loads: tuple[list, list] | None = None

    def __init__(self, topo: Topology, **options):
        self.topo = topo

    # -- request lifecycle (host -> scheduler) --------------------------------------------------
    def on_new_request(self, req, now: float) -> bool:
        """A prompt or decode iteration enters at the source; False rejects the query (offline)."""
        return True

    def on_query_finished(self, query, now: float) -> None:
        """The query's last decode came back; release whatever the scheduler reserved."""

    def may_launch(self) -> bool:
        """Offline closed loop: may a new query be launched now? (helix checks KV expectation)."""
        return True

    # -- transmissions -------------------------------------------------------------------------
    def pick_transmissions(self, uid: int, outbound: dict, net: NetState) -> tuple[list, list]:
        """Return ([(link uid, bandwidth, request), ...], [node uids to re-poll])."""
        raise NotImplementedError
