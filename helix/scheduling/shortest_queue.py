"""Shortest-queue scheduling, docs/design/simulator.md s5.5.

Like random, but a prompt may only take a link whose receiver's first-layer queue is the shortest
among all the sender's out-links (a link to the sink is always eligible); ties go by the shuffle,
and when no shortest link is idle the prompt waits.
"""

from __future__ import annotations

from helix.scheduling import register
from helix.scheduling.base import SINK_ID
from helix.scheduling.hop import HopScheduler


@register("shortest_queue")
class ShortestQueueScheduler(HopScheduler):
    reads_queues = True  # the host must keep first-layer queues up to date at every landing

    def choose_prompt(self, uid, req, free, taken, net):
        links = self.topo.links
        lens = [
            net.first_queue_len(links[j].dst) for j in self.topo.out_links[uid] if links[j].dst != SINK_ID
        ]
        shortest = min(lens) if lens else 0
        self.rng.shuffle(free)
        for j, _ in free:
            if j in taken:
                continue
            dst = links[j].dst
            if dst == SINK_ID or net.first_queue_len(dst) == shortest:
                return j
        return None
