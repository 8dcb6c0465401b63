"""Workloads: who arrives when, with which prompt and output lengths (docs/design/simulator.md s3).

Generators are registered by mode (``offline`` closed loop, ``online`` Azure-trace arrivals); all
draw from one ``random.Random`` seeded from config, in the exact call order of the paper's
simulator, so the same seed gives the paper's traces bit for bit.
"""

from helix.workload.lengths import LengthSampler
from helix.workload.online import online_arrivals
from helix.workload.offline import OfflineFeeder

__all__ = ["LengthSampler", "online_arrivals", "OfflineFeeder"]
