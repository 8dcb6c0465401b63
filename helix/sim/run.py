"""One simulation from files to metrics: placement graph + layout + profiles + workload -> results.

``prepare`` turns a placement graph (:class:`~helix.artifact.simulator_cluster.SimulatorCluster`)
and a layout into the scheduler's :class:`~helix.scheduling.base.Topology` plus per-node execution
parameters; ``simulate`` adds the scheduler and the workload, runs the event loop and computes the
metrics with :mod:`helix.metrics`. Every bad input is a one-line :class:`HelixInputError` raised
before anything runs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

from helix.artifact.simulator_cluster import SINK, SOURCE, SimulatorCluster
from helix.errors import HelixInputError
from helix.metrics import summarize
from helix.models import ModelSpec
from helix.profiles.entry import ModelProfiles, as_model_profiles
from helix.profiles.limits import MAX_INPUT_LEN, DECODE_PER_TOKEN_MAX_CONTEXT
from helix.profiles.store import ProfileStore
from helix.profiles.typical import TypicalThroughput
from helix.scheduling import make_scheduler
from helix.scheduling.base import SINK_ID, SOURCE_ID, LinkView, NodeView, Topology
from helix.sim.engine import NodeExec, RunResult, Simulator, check_capacity
from helix.sim.settings import HELIX_N_INIT, WorkloadSpec
from helix.workload import LengthSampler, OfflineFeeder, online_arrivals


@dataclass
class Prepared:
    topo: Topology
    execs: dict[int, NodeExec]
    t0: float
    names: dict[int, str]
    gpus: dict[int, str]


def prepare(
    model: ModelSpec,
    sc: SimulatorCluster,
    ranges: dict[str, tuple[int, int] | None],
    store: ModelProfiles | ProfileStore,
    force: bool = False,
    source: str | None = None,
) -> Prepared:
    """Check the layout against its placement graph and build the simulator's view of it.

    ``store``: the model's ``ModelProfiles`` (a bare ProfileStore is read through the built-in
    datasheet table).
    """
    profiles = as_model_profiles(model, store)
    src = source or sc.source or "placement graph"
    L = model.num_layers
    known = {n.name for n in sc.nodes}
    for name in ranges:
        if name not in known:
            raise HelixInputError(
                src, f"layout.{name}", "layout names a node the placement graph does not have", name
            )
    nodes: dict[int, NodeView] = {}
    execs: dict[int, NodeExec] = {}
    uid_of: dict[str, int] = {SOURCE: SOURCE_ID, SINK: SINK_ID}
    t_load = 0.0
    for i, n in enumerate(sc.nodes):
        rng = ranges.get(n.name)
        if rng is None:
            continue
        s, e = rng
        if not 0 <= s < e <= L:
            raise HelixInputError(src, f"layout.{n.name}", f"layer range outside [0, {L})", rng)
        uid = 2 + i
        uid_of[n.name] = uid
        try:
            lim = profiles.limits(n.machine_type)
            prof = profiles.profile(n.machine_type)
        except HelixInputError as exc:
            raise HelixInputError(
                src,
                f"{n.name}.machine_type",
                f"no profile or engine limits for {model.name}: {exc.message}",
                n.machine_type,
            ) from None
        k = e - s
        kk = k
        if k > lim.K:
            if not force:
                raise HelixInputError(
                    src,
                    f"layout.{n.name}",
                    f"{k} layers exceed K={lim.K} of {n.machine_type} for {model.name} "
                    "(set force for the paper's separate pipelines)",
                    rng,
                )
            kk = lim.K
        dm = lim.decode_max(kk)
        nodes[uid] = NodeView(
            uid, n.name, n.machine_type, s, e, n.nic_in, n.nic_out, n.kv_capacity, lim.R * MAX_INPUT_LEN
        )
        execs[uid] = NodeExec(
            prof.prompt_time,
            prof.decode_time,
            lim.R,
            lim.R * MAX_INPUT_LEN,
            dm,
            DECODE_PER_TOKEN_MAX_CONTEXT * dm,
        )
        t_load = max(t_load, k * model.param_bytes_per_layer / n.disk)
    if not nodes:
        raise HelixInputError(src, "layout", "no node holds any layer")
    links: list[LinkView] = []
    for l in sc.links:
        if l.src not in uid_of or l.dst not in uid_of:
            continue  # arcs of unused nodes carry nothing
        a, b = uid_of[l.src], uid_of[l.dst]
        if b != SINK_ID:
            nb = nodes[b]
            lo = 0 if a == SOURCE_ID else nodes[a].end
            if not (nb.start <= lo < nb.end):
                raise HelixInputError(
                    src,
                    f"{l.name}",
                    "link does not continue the sender's layers on the receiver",
                    f"{l.src}->{l.dst}",
                )
        elif a != SOURCE_ID and nodes[a].end != L:
            raise HelixInputError(
                src, f"{l.name}", "link into the sink from a node that does not hold the last layer", l.src
            )
        links.append(LinkView(len(links), a, b, l.bandwidth, l.latency))
    topo = Topology(
        L,
        nodes,
        links,
        coord_out=sc.coord_out,
        coord_in=sc.coord_in,
        token_size=model.token_bytes,
        activation_size=model.activation_bytes_per_token,
    )
    _check_routes(topo, src)
    t0 = math.ceil(t_load) + 1
    return Prepared(
        topo, execs, float(t0), {u: n.name for u, n in nodes.items()}, {u: n.gpu for u, n in nodes.items()}
    )


def _check_routes(topo: Topology, src: str) -> None:
    """At least one complete route source -> ... -> sink must exist."""
    seen = {SOURCE_ID}
    stack = [SOURCE_ID]
    while stack:
        u = stack.pop()
        for j in topo.out_links[u]:
            v = topo.links[j].dst
            if v not in seen:
                seen.add(v)
                stack.append(v)
    if SINK_ID not in seen:
        raise HelixInputError(src, "links", "the layout has no complete route from the source to the sink")


@dataclass
class SimOutput:
    metrics: dict
    result: RunResult
    prepared: Prepared
    max_flow: float | None
    window: tuple[float, float]
    sim: Simulator
    provenance: dict | None = None  # per GPU type: where its profile and limits came from


def simulate(
    model: ModelSpec,
    sc: SimulatorCluster,
    ranges: dict[str, tuple[int, int] | None],
    store: ModelProfiles | ProfileStore,
    scheduler: str,
    workload: WorkloadSpec,
    lengths: tuple[Sequence[int], Sequence[int]],
    arrival_counts: Sequence[int] | None = None,
    mix: dict[str, int] | None = None,
    progress: bool = False,
    source: str | None = None,
    scheduler_options: dict | None = None,
) -> SimOutput:
    """Run one simulation; ``mix`` (machine type -> count) feeds the helix flow capacities."""
    src = source or sc.source or "simulation"
    profiles = as_model_profiles(model, store)
    prep = prepare(model, sc, ranges, profiles, force=workload.force, source=src)
    topo = prep.topo
    rng = random.Random(workload.seed)
    sampler = LengthSampler(lengths[0], lengths[1], rng, source="lengths")
    check_capacity(topo, min(a + b for a, b in sampler.pairs), src)
    t0 = prep.t0
    warm, dur = workload.warmup, workload.duration
    options: dict = {"rng": rng, "mode": workload.mode}
    max_flow = None
    if scheduler == "helix":
        mix = workload.mix or mix
        if not mix:
            mix = {}
            for g in prep.gpus.values():
                mix[g] = mix.get(g, 0) + 1
        typical = TypicalThroughput(profiles, mix)
        cap = {}
        for u, nd in topo.nodes.items():
            if nd.gpu not in typical.mix:
                raise HelixInputError(
                    src,
                    f"{nd.name}.machine_type",
                    f"GPU type not in the machine mix {sorted(typical.mix)}",
                    nd.gpu,
                )
            cap[u] = typical.tau(nd.gpu, nd.layers)
        options.update(
            node_capacity=cap, kv_hwm=workload.kv_hwm, kv_ratio=workload.kv_ratio, feed_hwm=workload.feed_hwm
        )
    options.update(scheduler_options or {})
    sched = make_scheduler(scheduler, topo, **options)
    if scheduler == "helix":
        max_flow = sched.max_flow
    if workload.mode == "online":
        window = (t0 + warm, t0 + dur)
        if not window[1] > window[0]:
            raise HelixInputError(src, "warmup_s", "warm-up must be shorter than the duration", warm)
        sim = Simulator(topo, prep.execs, sched, t0, window, progress=progress)
        if arrival_counts is None:
            raise HelixInputError(src, "arrivals", "an online run needs the arrival trace")
        arrivals = online_arrivals(arrival_counts, sampler, workload.rate_tps, t0, dur, source="workload")
        if not arrivals:
            raise HelixInputError(
                "workload",
                "rate_tps",
                "the workload has zero requests at this rate and duration",
                workload.rate_tps,
            )
        result = sim.run(arrivals=arrivals)
    else:
        end = t0 + warm + dur
        window = (t0 + warm, end)
        n_init = workload.n_init or (HELIX_N_INIT if scheduler == "helix" else None)
        if n_init is None:
            raise HelixInputError(
                "workload",
                "n_init",
                f"an offline run with the {scheduler} scheduler needs an initial concurrency",
            )
        sim = Simulator(topo, prep.execs, sched, t0, window, progress=progress)
        feeder = OfflineFeeder(n_init, end, on_prompt=sched.feeds_on_prompt)
        sim.feeder = feeder
        sim.sampler = sampler
        for t in feeder.initial_times(t0):
            inp, out = sampler.sample()
            sim.push(t, 0, sim.new_query(t, inp, out))
        result = sim.run(until=end)
    metrics = summarize(_pairs(result.prompt), _pairs(result.decode), window)
    return SimOutput(metrics, result, prep, max_flow, window, sim)


def _pairs(arr) -> list:
    import numpy as np

    a = np.frombuffer(arr, dtype=np.float64) if len(arr) else np.empty(0)
    return a.reshape(-1, 2)
