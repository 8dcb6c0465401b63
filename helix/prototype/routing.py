"""Adapters from the prototype's node table onto the shared schedulers of ``helix.scheduling``.

The schedulers work on a :class:`~helix.scheduling.base.Topology` with the simulator's ids
(source 0, sink 1, compute nodes 2..); the prototype's ids are host 0, workers 1..N, so worker k is
uid k + 1 and the host is the source as a sender and the sink as a receiver. Nothing here decides
routes itself:

* ``helix``: the host plans the whole route with ``HelixScheduler.plan`` (max-flow + IWRR + KV
  expectation), adds decode loads with ``on_new_request`` and releases KV with
  ``on_query_finished``. A dead worker is routed around by re-planning on the topology without it
  (queries keep releasing into the scheduler instance that planned them).
* ``swarm`` / ``random``: every sender (the host for the first hop, each worker for the next) owns a
  scheduler instance on the same topology and asks it for its next link: ``SwarmScheduler``'s stride
  commit (feedback = per-hop times fed into its EMA) or ``RandomScheduler.choose_prompt`` over the
  live links. The simulator's bandwidth bookkeeping (``pick_transmissions``) has no role here: the
  network is real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from helix.errors import HelixInputError
from helix.prototype.sysconfig import HOST_ID, SystemConfig
from helix.scheduling import SINK_ID, SOURCE_ID, LinkView, NodeView, Topology, make_scheduler

SUPPORTED = ("helix", "swarm", "random")
_BIG = 1e15  # loopback / unknown links and NICs: never the constraint


def uid_of(nid: int, as_receiver: bool = False) -> int:
    if nid == HOST_ID:
        return SINK_ID if as_receiver else SOURCE_ID
    return nid + 1


def nid_of(uid: int) -> int:
    return HOST_ID if uid in (SOURCE_ID, SINK_ID) else uid - 1


def topology(
    cfg: SystemConfig, kv_capacity: dict[int, int] | None = None, dead: set[int] = frozenset()
) -> Topology:
    """The placement graph as a scheduling Topology (links in sender-id, then config order)."""
    nodes = {}
    for w in cfg.workers:
        if w.id in dead:
            continue
        kv = (kv_capacity or {}).get(w.id, 10**12)
        nodes[uid_of(w.id)] = NodeView(
            uid_of(w.id), w.name, w.gpu, w.start, w.end, _BIG, _BIG, int(kv), prompt_max_tokens=10**9
        )
    links = []
    for n in cfg.nodes:
        if n.id in dead:
            continue
        for v in n.out_nodes:
            if v in dead:
                continue
            links.append(LinkView(len(links), uid_of(n.id), uid_of(v, as_receiver=True), _BIG, 0.0))
    return Topology(num_layers=cfg.num_layers, nodes=nodes, links=links, coord_out=_BIG, coord_in=_BIG)


@dataclass
class _Query:
    """What HelixScheduler reads and writes on a query: input length, route, KV expectation."""

    input: int
    output: int
    route: list = field(default_factory=list)


@dataclass
class _Iter:
    query: _Query
    prompt: bool


class HelixRouter:
    """Host-side whole-route planning with the shared helix scheduler."""

    def __init__(
        self,
        cfg: SystemConfig,
        mode: str,
        node_capacity: dict[int, float],
        kv_capacity: dict[int, int],
        **options,
    ):
        self.cfg, self.mode, self.options = cfg, mode, options
        self.node_capacity, self.kv_capacity = node_capacity, kv_capacity
        self.dead: set[int] = set()
        self.queries: dict[int, tuple[object, _Query]] = {}
        self._build()

    def _build(self) -> None:
        topo = topology(self.cfg, self.kv_capacity, self.dead)
        caps = {uid: self.node_capacity[nid_of(uid)] for uid in topo.nodes}
        self.sched = make_scheduler("helix", topo, node_capacity=caps, mode=self.mode, **self.options)

    def plan(self, rid: int, input_len: int, output_len: int) -> list[list[int]] | None:
        """The whole route, or None when every candidate is masked. The paper's online host asserts
        there; a serving run logs it as a rejection instead of crashing."""
        from helix.scheduling.helix import SchedulingError

        q = _Query(input_len, output_len)
        try:
            if not self.sched.on_new_request(_Iter(q, True), 0.0):
                return None
        except SchedulingError:
            return None
        self.queries[rid] = (self.sched, q)
        return [[nid_of(dst), s, e] for _, dst, s, e in q.route if dst != SINK_ID]

    def on_decode(self, rid: int) -> None:
        sched, q = self.queries[rid]
        if sched is self.sched:
            sched.on_new_request(_Iter(q, False), 0.0)

    def finish(self, rid: int) -> None:
        entry = self.queries.pop(rid, None)
        if entry is not None:
            entry[0].on_query_finished(entry[1], 0.0)

    def may_launch(self) -> bool:
        return self.sched.may_launch()

    def mark_dead(self, nid: int) -> None:
        self.dead.add(nid)
        self._build()


class HopChooser:
    """One sender's next-hop choice for swarm/random, on the shared scheduler implementations."""

    def __init__(self, cfg: SystemConfig, name: str, nid: int, seed: int = 0):
        self.cfg, self.nid = cfg, nid
        self.topo = topology(cfg)
        self.sched = make_scheduler(name, self.topo, rng=random.Random(seed * 1009 + nid))
        self.me = uid_of(nid)
        self.link_to = {self.topo.links[j].dst: j for j in self.topo.out_links[self.me]}

    def choose(self, prev_end: int, dead: set[int]) -> list[int] | None:
        """[node, start, end] of the next stage (suffix above ``prev_end``), or None if all are dead."""
        live = [j for j in self.topo.out_links[self.me] if nid_of(self.topo.links[j].dst) not in dead]
        if not live:
            return None
        if self.sched.name == "swarm":
            for _ in range(1000 * len(self.link_to)):
                j = self.sched._commit(self.me)  # the stride heap; dead links' priority keeps growing
                if j in live:
                    break
            else:
                return None
        else:
            j = self.sched.choose_prompt(self.me, None, [(k, _BIG) for k in live], set(), None)
        v = nid_of(self.topo.links[j].dst)
        if v == HOST_ID:
            return None
        node = self.cfg.node(v)
        start = 0 if self.nid == HOST_ID else prev_end
        return [v, start, node.end]

    def feedback(self, next_nid: int, delta_s: float) -> None:
        """Swarm: a hop took ``delta_s`` (dispatch here -> dispatch at the receiver)."""
        if self.sched.name != "swarm":
            return
        j = self.link_to.get(uid_of(next_nid, as_receiver=True))
        if j is not None:
            from helix.scheduling.swarm import GAMMA

            self.sched.ema[j] = GAMMA * delta_s + (1 - GAMMA) * self.sched.ema[j]


def check_scheduler(name: str) -> str:
    if name not in SUPPORTED:
        raise HelixInputError("prototype", "scheduler", f"the prototype supports {list(SUPPORTED)}", name)
    return name


def hop_feedback(route: list, t: float, hops: list) -> tuple[tuple[int, float] | None, list[list]]:
    """Per-hop times of one finished iteration for swarm's EMA: ``(first stage, seconds from the
    send to its output)`` for whoever sent the iteration, and ``[sender, receiver, seconds]`` for
    each worker-to-worker hop (carried to the senders on the request's next decode)."""
    first, fb = None, []
    prev_t, prev_node = t, HOST_ID
    for (node, _, _), ht in zip(route, hops):
        if prev_node == HOST_ID:
            first = (node, ht - prev_t)
        else:
            fb.append([prev_node, node, ht - prev_t])
        prev_t, prev_node = ht, node
    return first, fb
