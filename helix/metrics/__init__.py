"""The one definition of the figures the project prints (docs/metrics.md).

Used by the simulator and by the prototype's log parser alike, so both report the same thing:
give it, per phase, the finish times and latencies of the iterations, plus the measured window.
"""

from helix.metrics.core import PERCENTILES, aggregate, latency_stats, percentile, summarize

__all__ = ["PERCENTILES", "aggregate", "latency_stats", "percentile", "summarize"]
