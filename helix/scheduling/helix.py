"""Helix scheduling: max-flow routes with interleaved weighted round robin (docs/design/simulator.md s5.2).

Each sender keeps one IWRR load per out-link; a prompt walks from the source choosing, at every
hop, the unmasked link minimising ``load + w / flow`` (w = input length; strict ``<`` so the lowest
link index wins ties), which spreads requests in proportion to the max-flow. Links carrying < 5 %
of the sender's flow, receivers whose prompt limit is below the input and receivers whose KV cache
would pass its high-water mark under the expected length are masked. Decodes follow the prompt's
route and add w = 1 along it. Bandwidth per link is fixed: the floor of the link's bandwidth and
its flow-proportional shares of the sender's and receiver's NICs.
"""

from __future__ import annotations

import math

from helix.errors import HelixInputError
from helix.scheduling import register
from helix.scheduling.base import SINK_ID, SOURCE_ID, Scheduler, Topology
from helix.scheduling.flowgraph import solve

AVG_OUTPUT_LEN = 240
FLOW_MASK = 0.05
KV_DEFAULTS = {"online": (0.9, 0.6), "offline": (0.85, 1.0)}


class SchedulingError(HelixInputError):
    """An online prompt found every link masked (the paper's scheduler asserts here): the rate or the
    KV thresholds do not fit the placement."""

    def __init__(self, message: str):
        super().__init__("helix scheduler", None, message)


@register("helix")
class HelixScheduler(Scheduler):
    plans_routes = True
    feeds_on_prompt = True

    def __init__(
        self,
        topo: Topology,
        node_capacity: dict[int, float],
        mode: str = "offline",
        kv_hwm: float | None = None,
        kv_ratio: float | None = None,
        feed_hwm: float = 0.8,
        flows: list[float] | None = None,
        **_ignored,
    ):
        super().__init__(topo)
        self.mode = mode
        hwm, ratio = KV_DEFAULTS[mode]
        self.kv_hwm = hwm if kv_hwm is None else kv_hwm
        self.kv_ratio = ratio if kv_ratio is None else kv_ratio
        self.feed_hwm = feed_hwm
        if flows is None:
            self.max_flow, flows = solve(topo, node_capacity)
        else:
            self.max_flow = sum(flows[i] for i in topo.out_links[SOURCE_ID])
        self.flows = flows
        links = topo.links
        # per sender: candidate link ids, 1/flow, receiver, masks that never change
        self.loads = [0.0] * len(links)
        self.inv = [1.0 / f if f > 0 else math.inf for f in flows]
        self.decode_loads = (self.loads, self.inv)  # what on_new_request does for a decode, as data
        self._cands: dict[int, list[int]] = {}
        for uid, outs in topo.out_links.items():
            total = sum(flows[i] for i in outs)
            self._cands[uid] = [i for i in outs if not flows[i] < FLOW_MASK * total]
        # KV expectation (s5.2.5)
        self.kv_cap = {u: n.kv_capacity for u, n in topo.nodes.items()}
        self.kv_avail = dict(self.kv_cap)
        self.kv_floor = {u: (1 - self.kv_hwm) * c for u, c in self.kv_cap.items()}
        self.bandwidth = self._bandwidths()
        self._holders = self._layer_holders()
        # kv_bottleneck per distinct holder set (layers held by the same nodes have the same
        # usage): its members with their layer counts, and the capacity term, summed once in the
        # order the per-layer loop sums it (capacities never change)
        self._kv_groups: list[tuple[list[tuple[int, int]], float]] = []
        seen: set[tuple[int, ...]] = set()
        for holders in self._holders:
            key = tuple(holders)
            if key in seen:
                continue
            seen.add(key)
            members = [(u, topo.nodes[u].end - topo.nodes[u].start) for u in holders]
            total = 0.0
            for u, k in members:
                total += self.kv_cap[u] / k
            self._kv_groups.append((members, total))

    # -- bandwidth (s5.2.6) -----------------------------------------------------------------------
    def _bandwidths(self) -> list[float]:
        topo, flows = self.topo, self.flows
        rate = [flows[l.uid] * topo.bytes_per_token(l) for l in topo.links]
        out_sum = {u: sum(rate[i] for i in outs) for u, outs in topo.out_links.items()}
        in_sum = {u: sum(rate[i] for i in ins) for u, ins in topo.in_links.items()}
        bw = []
        for l in topo.links:
            if rate[l.uid] <= 0:
                bw.append(0.0)
                continue
            f_out = rate[l.uid] / out_sum[l.src]
            f_in = rate[l.uid] / in_sum[l.dst]
            bw.append(
                float(math.floor(min(l.bandwidth, topo.nic_out(l.src) * f_out, topo.nic_in(l.dst) * f_in)))
            )
        return bw

    def _layer_holders(self) -> list[list[int]]:
        holders: list[list[int]] = [[] for _ in range(self.topo.num_layers)]
        for uid, n in self.topo.nodes.items():
            for layer in range(n.start, n.end):
                holders[layer].append(uid)
        return holders

    # -- routing -----------------------------------------------------------------------------------
    def expected_length(self, query) -> int:
        return int(query.input + AVG_OUTPUT_LEN * self.kv_ratio)

    def plan(self, query) -> list[tuple] | None:
        """Choose the whole route of a prompt; None if some hop has no candidate (rejection)."""
        topo, loads, inv = self.topo, self.loads, self.inv
        nodes, links = topo.nodes, topo.links
        w = query.input
        x = self.expected_length(query)
        avail, floor = self.kv_avail, self.kv_floor
        route: list[tuple] = []
        chosen: list[int] = []
        cur = SOURCE_ID
        prev_end = 0
        while cur != SINK_ID:
            best = -1
            best_v = math.inf
            for j in self._cands[cur]:
                dst = links[j].dst
                if dst != SINK_ID:
                    n = nodes[dst]
                    if n.prompt_max_tokens < w or avail[dst] - x * (n.end - n.start) < floor[dst]:
                        continue
                v = loads[j] + w * inv[j]
                if v < best_v:
                    best_v, best = v, j
            if best < 0:
                for j in chosen:  # undo this attempt's loads
                    loads[j] -= w * inv[j]
                return None
            loads[best] += w * inv[best]
            chosen.append(best)
            dst = links[best].dst
            if dst == SINK_ID:
                route.append((best, SINK_ID, 0, 0))
            else:
                n = nodes[dst]
                start = n.start if cur == SOURCE_ID else prev_end
                route.append((best, dst, start, n.end))
                prev_end = n.end
            cur = dst
        for _, dst, s, e in route:
            if dst != SINK_ID:
                avail[dst] -= x * (e - s)
        query.kv_expect = x
        return route

    def on_new_request(self, req, now: float) -> bool:
        query = req.query
        if req.prompt:
            route = self.plan(query)
            if route is None:
                if self.mode == "online":
                    raise SchedulingError(
                        f"online prompt of {query.input} tokens found every link masked at t={now:.3f}"
                    )
                return False
            query.route = route
            return True
        # a decode: keep in step with decode_loads (hosts may apply it without calling this)
        loads, inv = self.loads, self.inv
        for stage in query.route:
            j = stage[0]
            loads[j] += inv[j]
        return True

    def on_query_finished(self, query, now: float) -> None:
        x = getattr(query, "kv_expect", None)
        if x is None:
            return
        avail = self.kv_avail
        for _, dst, s, e in query.route:
            if dst != SINK_ID:
                avail[dst] += x * (e - s)

    def kv_bottleneck(self) -> float:
        """Max over layers of the expected KV usage of the nodes holding that layer (s5.2.5)."""
        worst = 0.0
        avail = self.kv_avail
        for members, total in self._kv_groups:
            free = 0.0
            for u, k in members:
                free += avail[u] / k
            if total > 0:
                usage = 1 - free / total
                if usage > worst:
                    worst = usage
        return worst

    def may_launch(self) -> bool:
        return self.kv_bottleneck() <= self.feed_hwm

    # -- transmissions (s5.2.6) ----------------------------------------------------------------
    def pick_transmissions(self, uid: int, outbound: dict, net) -> tuple[list, list]:
        """Per-link FIFO: the first waiting request of each link goes if the link is not sending."""
        picks = []
        closed = set()
        n_out = len(self.topo.out_links[uid])
        sending = net.link_sending
        bw = self.bandwidth
        for req in outbound.values():
            j = req.query.route[req.hop][0]
            if j in closed:
                continue
            closed.add(j)
            if not sending(j):
                picks.append((j, bw[j], req))
            if len(closed) == n_out:
                break
        return picks, []
