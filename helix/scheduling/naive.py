"""The "random" scheduler (the paper's Naive, used for separate pipelines), docs/design/simulator.md s5.4.

A prompt takes a uniformly random link among the sender's currently idle links (``shuffle`` of the
free-link list with the run's RNG, first one not yet taken in this call); on a chain there is one
link and no randomness is drawn.
"""

from __future__ import annotations

from helix.scheduling import register
from helix.scheduling.hop import HopScheduler


@register("random")
class RandomScheduler(HopScheduler):
    def choose_prompt(self, uid, req, free, taken, net):
        self.rng.shuffle(free)
        for j, _ in free:
            if j not in taken:
                return j
        return None
