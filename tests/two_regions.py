"""The small two-region cluster of the served-estimate and planner tests, and its GPU entries.

3 A100 in r0 (54 of LLaMA-1 30B's 60 layers) and 4 L4 in r1 (44): every route must cross regions,
and the cluster has many max flows, so both the estimate's routing and the planner's region
pricing matter on it.
"""

from __future__ import annotations

from helix.cluster import Cluster, Link, Machine

# the two GPU types as the simulator's graph needs them (memory, NICs, disk)
GPUS = {
    g: {"vram_bytes": v, "nic_in": 1e10, "nic_out": 1e10, "disk": 1e9}
    for g, v in (("A100", 40e9), ("L4", 24e9))
}


def two_regions() -> Cluster:
    """3 A100 in r0, 4 L4 in r1; 10 GB/s links inside a region, 12.5 MB/s and 50 ms across."""
    ms = [Machine(f"a{i}", "A100", "r0") for i in range(3)] + [Machine(f"l{i}", "L4", "r1") for i in range(4)]
    links = []
    for i, a in enumerate(ms):
        for end in ("source", "sink"):
            links.append(Link(end, a.name, 1.25e7, 0.05))
        for b in ms[i + 1 :]:
            same = a.region == b.region
            links.append(Link(a.name, b.name, 1.0e9 if same else 1.25e7, 0.001 if same else 0.05))
    return Cluster("two-regions", ms, links)
