"""Shared pieces of the hop-by-hop schedulers (swarm, random, shortest_queue).

docs/design/simulator.md s5.3-5.5.

These schedulers choose a prompt's next hop at each sender when it is ready to leave; decodes take
the hop their prompt took. A link is usable when the bandwidth it could get now,
``min(NIC_out / #out-links - bandwidth in use on it, its free bandwidth, sender's free NIC,
receiver's free NIC)``, exceeds 10 B/s (TOKEN_SLOW_LINK); a transmission takes all of it.
"""

from __future__ import annotations

from helix.scheduling.base import SINK_ID, SOURCE_ID, Scheduler, Topology

MIN_BW = 10.0  # bytes/s


class HopScheduler(Scheduler):
    def __init__(self, topo: Topology, rng=None, fast_chain: bool = True, **_ignored):
        super().__init__(topo)
        self.rng = rng
        self._share = {
            u: (topo.nic_out(u) / len(outs) if outs else 0.0) for u, outs in topo.out_links.items()
        }
        # per link: sender, receiver, its bandwidth and its sender's NIC share (usable() runs at
        # every transmission poll: list reads instead of attribute and dict lookups)
        self._l_src = [l.src for l in topo.links]
        self._l_dst = [l.dst for l in topo.links]
        self._l_bw = [l.bandwidth for l in topo.links]
        self._l_share = [self._share[l.src] for l in topo.links]
        self.chain = self._chain_route() if fast_chain else None
        if self.chain is not None:
            # On a pure chain (one way out of every sender, one way into every receiver) every
            # hop-by-hop rule picks the only link, always with the full bandwidth an idle link gets:
            # the route is known in advance and each link is a fixed-bandwidth FIFO, so the host may
            # take its fast path (same decisions, same numbers; no randomness is drawn either way).
            self.plans_routes = True
            self.bandwidth = [self._idle_bw(l) for l in topo.links]

    def _idle_bw(self, link) -> float:
        return min(
            self._share[link.src], link.bandwidth, self.topo.nic_out(link.src), self.topo.nic_in(link.dst)
        )

    def _chain_route(self) -> list | None:
        topo = self.topo
        if any(len(outs) > 1 for outs in topo.out_links.values()) or any(
            len(ins) > 1 for ins in topo.in_links.values()
        ):
            return None
        route, u, seen = [], SOURCE_ID, set()
        while u != SINK_ID:
            outs = topo.out_links.get(u) or []
            if not outs or u in seen:
                return None
            seen.add(u)
            route.append(self.stage(outs[0]))
            u = topo.links[outs[0]].dst
        if len(seen) != len(topo.nodes) + 1 or any(self._idle_bw(l) <= MIN_BW for l in topo.links):
            return None
        return route

    def on_new_request(self, req, now: float) -> bool:
        if self.chain is not None and req.prompt:
            req.query.route = list(self.chain)
        return True

    def usable(self, j: int, net) -> float:
        free = net.link_free_bw(j)
        return min(
            self._l_share[j] - (self._l_bw[j] - free),
            free,
            net.nic_out_free(self._l_src[j]),
            net.nic_in_free(self._l_dst[j]),
        )

    def free_links(self, uid: int, net) -> list[tuple[int, float]]:
        out = []
        for j in self.topo.out_links[uid]:
            u = self.usable(j, net)
            if u > MIN_BW:
                out.append((j, u))
        return out

    def stage(self, j: int) -> tuple:
        link = self.topo.links[j]
        if link.dst in self.topo.nodes:
            s, e = self.topo.stage_layers(link)
            return (j, link.dst, s, e)
        return (j, link.dst, 0, 0)

    def choose_prompt(self, uid: int, req, free: list, taken: set, net):
        """Pick a link for a prompt among ``free`` (list of (link, u)); None to wait."""
        raise NotImplementedError

    def pick_transmissions(self, uid: int, outbound: dict, net) -> tuple[list, list]:
        """Scan waiting requests in arrival order; at most one request per link per call."""
        free = self.free_links(uid, net)
        if not free:
            return [], []
        free_bw = dict(free)
        taken: set[int] = set()
        picks = []
        for req in outbound.values():
            route = req.query.route
            if req.hop < len(route):  # the hop is known: a decode (or a prompt's fixed hop)
                j = route[req.hop][0]
                if j in free_bw and j not in taken:
                    taken.add(j)
                    picks.append((j, free_bw[j], req))
            else:
                j = self.choose_prompt(uid, req, free, taken, net)
                if j is not None:
                    taken.add(j)
                    route.append(self.stage(j))
                    picks.append((j, free_bw[j], req))
        return picks, []


__all__ = ["HopScheduler", "MIN_BW", "SOURCE_ID"]
