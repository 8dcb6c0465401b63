"""Generators that reproduce the paper's clusters bit for bit (docs/design/placement.md s7).

The paper's clusters were drawn with CPython's ``random`` seeded with 0. Reproducing them exactly
(node-type permutation, every bandwidth and latency) needs the same sequence of RNG calls, so the
order of calls here is part of the contract and must not be "tidied": a reordered draw silently
yields a different cluster. Each generator uses its own ``random.Random(seed)`` instance, which
produces the same stream as the module-level ``random.seed(seed)`` the paper used, without touching
global state.

Machines are named ``n{i}`` (i = the ComputeNode index of the artifact's .ini); every coordinator
link is ``Link("source", "n{i}")`` or ``Link("n{i}", "sink")``; compute links have a < b by index.
Links are listed source links, sink links, then compute pairs in lexicographic index order, which is
the order of the artifact's files.
"""

from __future__ import annotations

import itertools
import random

from helix.cluster import SINK, SOURCE, Cluster, Link, Machine
from helix.clusters.spec import LinkDist, Rounding

MBPS = 1e6  # bytes/s; the unit the paper's files write bandwidths in
MILLISEC = 1e-3


def machine_name(i: int) -> str:
    return f"n{i}"


def round_bandwidth(bandwidth: float, rounding: Rounding | None) -> float:
    """Round a drawn bandwidth as the paper's generator printed it (truncate / 1 / 3 decimals of mbps).

    The result is computed as ``<printed number> * 1e6`` so that it equals, bit for bit, what
    evaluating the printed ``"<x> * mbps"`` expression gives.
    """
    if rounding is None:
        return bandwidth
    m = bandwidth / MBPS
    if bandwidth > rounding.int_above:
        return int(m) * MBPS
    if bandwidth > rounding.one_decimal_above:
        return round(m, 1) * MBPS
    return round(m, 3) * MBPS


def round_latency(latency: float, rounding: Rounding | None) -> float:
    """Truncate to whole milliseconds (the tiny epsilon keeps 0.007 s from truncating to 6 ms)."""
    if rounding is None:
        return latency
    return int(latency * 1000 + 1e-9) * MILLISEC


def draw_link(rng: random.Random, a: str, b: str, dist: LinkDist, rounding: Rounding | None) -> Link:
    """One link: one uniform draw for bandwidth, then one for latency (always two calls, even if var=0)."""
    bw = rng.uniform(dist.bandwidth - dist.bandwidth_var, dist.bandwidth + dist.bandwidth_var)
    lat = rng.uniform(dist.latency - dist.latency_var, dist.latency + dist.latency_var)
    return Link(a=a, b=b, bandwidth=round_bandwidth(bw, rounding), latency=round_latency(lat, rounding))


def fake_cluster(
    name: str,
    types: dict[str, int],
    *,
    seed: int = 0,
    link: LinkDist,
    avg_degree: int | None = None,
    source_degree: int | None = None,
    sink_degree: int | None = None,
    fill_link: LinkDist | None = None,
    rounding: Rounding | None = None,
    description: str = "",
) -> Cluster:
    """The paper's "fake" generator: sampled topology, shuffled node types, i.i.d. links.

    RNG calls, in order: ``sample(all pairs, n*avg_degree//2)``, ``sample(range(n), source_degree)``,
    ``sample(range(n), sink_degree)``, ``shuffle(type list)``; then two uniforms per link in the
    order the links are listed (source, sink, compute pairs). Compute pairs that were not sampled get
    ``fill_link`` (the paper's slow links) or are left out. With the paper's settings (complete
    graph, zero variance) every link is identical and only the permutation depends on the RNG.
    """
    n = sum(types.values())
    if n < 1:
        raise ValueError("a cluster needs at least one machine")
    avg_degree = n - 1 if avg_degree is None else avg_degree
    source_degree = n if source_degree is None else source_degree
    sink_degree = n if sink_degree is None else sink_degree
    if avg_degree > n - 1 or source_degree > n or sink_degree > n:
        raise ValueError(f"degrees exceed the machine count {n}")
    rng = random.Random(seed)
    pairs = list(itertools.combinations(range(n), 2))
    fast = set(rng.sample(pairs, n * avg_degree // 2))
    sources = sorted(rng.sample(range(n), source_degree))
    sinks = sorted(rng.sample(range(n), sink_degree))
    gpu_list = [gpu for gpu, count in types.items() for _ in range(count)]
    rng.shuffle(gpu_list)

    machines = [Machine(name=machine_name(i), gpu=g) for i, g in enumerate(gpu_list)]
    links = [draw_link(rng, SOURCE, machine_name(i), link, rounding) for i in sources]
    links += [draw_link(rng, machine_name(i), SINK, link, rounding) for i in sinks]
    for a, b in pairs:
        dist = link if (a, b) in fast else fill_link
        if dist is not None:
            links.append(draw_link(rng, machine_name(a), machine_name(b), dist, rounding))
    return Cluster(name=name, machines=machines, links=links, description=description)


def partitioned_cluster(
    name: str,
    regions: list[list[str]],
    *,
    seed: int = 0,
    in_region: LinkDist,
    cross_region: LinkDist,
    coordinator_link: LinkDist | None = None,
    rounding: Rounding | None = None,
    description: str = "",
) -> Cluster:
    """The paper's partitioned (geo) generator: complete graph, link law set by the regions.

    RNG calls: per link, in the order source-i (all i), i-sink (all i), then pairs a<b in
    lexicographic order, one uniform for bandwidth and one for latency. Coordinator links use the
    cross-region law unless ``coordinator_link`` is given.
    """
    coordinator_link = coordinator_link or cross_region
    region_of = [k for k, region in enumerate(regions) for _ in region]
    machines = [
        Machine(name=machine_name(i), gpu=gpu, region=f"r{k}")
        for i, (k, gpu) in enumerate((k, g) for k, region in enumerate(regions) for g in region)
    ]
    n = len(machines)
    if n < 1:
        raise ValueError("a cluster needs at least one machine")
    rng = random.Random(seed)
    links = [draw_link(rng, SOURCE, machine_name(i), coordinator_link, rounding) for i in range(n)]
    links += [draw_link(rng, machine_name(i), SINK, coordinator_link, rounding) for i in range(n)]
    for a, b in itertools.combinations(range(n), 2):
        dist = in_region if region_of[a] == region_of[b] else cross_region
        links.append(draw_link(rng, machine_name(a), machine_name(b), dist, rounding))
    return Cluster(name=name, machines=machines, links=links, description=description)
