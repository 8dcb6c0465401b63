"""Online arrivals from the Azure Conversation trace, scaled to a token rate (docs/design/simulator.md s3.2).

The trace gives request counts per 3-s window. For each window of the run we draw one count
uniformly (with replacement: the trace's time order is not kept), scale it so the mean request
rate times the mean request length equals the target token rate, carry the rounding remainder to
the next window (Python's half-to-even ``round``), spread the window's arrivals uniformly and
sorted, then draw one length pair per arrival. RNG calls per window: 1 randint, n random, n randint.
"""

from __future__ import annotations

from typing import Sequence

from helix.errors import HelixInputError
from helix.workload.lengths import LengthSampler

WINDOW_S = 3


def online_arrivals(
    counts: Sequence[int],
    sampler: LengthSampler,
    rate_tps: float,
    t0: float,
    duration_s: float,
    source: str = "workload",
) -> list[tuple[float, int, int]]:
    """Arrivals ``(time, input, output)`` over ``[t0, t0 + duration_s)``."""
    if not rate_tps > 0:
        raise HelixInputError(source, "rate_tps", "must be positive", rate_tps)
    if not duration_s > 0:
        raise HelixInputError(source, "duration_s", "must be positive", duration_s)
    if not len(counts) or sum(counts) <= 0:
        raise HelixInputError(source, "arrivals", "the arrival trace has no requests")
    rng = sampler.rng
    mean_count = sum(counts) / len(counts)
    req_rate = rate_tps / sampler.mean_total
    scale = WINDOW_S * req_rate / mean_count
    scaled = [c * scale for c in counts]
    hi = len(scaled) - 1
    out: list[tuple[float, int, int]] = []
    carry = 0.0
    for w in range(int(duration_s // WINDOW_S)):
        c = scaled[rng.randint(0, hi)]
        n = round(c + carry)
        carry = c + carry - n
        base = t0 + WINDOW_S * w
        times = sorted(base + WINDOW_S * rng.random() for _ in range(n))
        for t in times:
            a, b = sampler.sample()
            out.append((t, a, b))
    return out
