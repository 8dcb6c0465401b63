"""The offline closed loop (docs/design/simulator.md s3.3): keep the cluster busy, measure decode throughput.

``n_init`` queries start at ``t0 + 0.1 i``. Afterwards a new query starts 0.1 s after a trigger:
with the helix scheduler every finished prompt and every finished query is a trigger, gated by the
scheduler's KV-expectation bottleneck (``may_launch``); with the other schedulers only a finished
query is, 1:1, so concurrency stays at ``n_init``. No query is launched after the run's end.
"""

from __future__ import annotations

from dataclasses import dataclass

from helix.errors import HelixInputError

LAUNCH_DELAY = 0.1


@dataclass
class OfflineFeeder:
    n_init: int
    end_time: float  # no launches at or after this time
    on_prompt: bool  # helix: prompts trigger launches too

    def __post_init__(self) -> None:
        if self.n_init < 1:
            raise HelixInputError(
                "workload", "n_init", "an offline run needs at least one initial request", self.n_init
            )

    def initial_times(self, t0: float) -> list[float]:
        return [t0 + LAUNCH_DELAY * i for i in range(self.n_init)]
