"""Served-throughput estimate of a layout: what a cluster actually serves, not only its max-flow.

Why: simulated decode throughput sits 5-25x below the max-flow, and max-flow ranks layouts badly
(docs/design/served-throughput.md). What binds is Little's law: decode throughput = requests in decode /
mean round trip of one token. This module estimates both factors from the layout, the profiles and
the engine limits, with the admission and routing rules of the helix scheduler (no simulator):

* **requests in flight** ``N``. Offline, the feeder admits while the expected KV use of the worst
  layer stays at or below ``FEED_HWM`` (each request expects ``input + 240 * kv_ratio`` tokens on
  every layer), and the router masks a machine whose own expected use would pass ``kv_hwm``. So
  ``N = min(FEED_HWM * C_min, kv_hwm * C_flow) / x``, where ``C_min`` is the smallest per-layer KV
  capacity over layers of every holder, ``C_flow`` the same over machines that carry flow, and
  ``x`` the KV tokens of a request weighted by how long it stays (long outputs stay longer).
  That closed-form bound is the default (``admission="bound"``, the planner's search). Where the
  router, not the feeder, binds (a full machine that is a hop's only candidate turns requests
  down), ``admission="replay"`` replays the closed loop's admission instead
  (:mod:`helix.placement.admission`: launches, IWRR routing of the trace's lengths, KV checks,
  rejections) and uses its requests in flight; the validation's (its loop compiled: 1-5 ms a
  replay; the whole validated estimate, with the scheduler's routing and the decode replay, 13-120
  ms per layout, docs/served.md).
* **routing**: the scheduler splits requests at every hop in proportion to the max-flow's link
  flows (links under 5 % of the sender's flow are masked), so a machine's share of routes is its
  visit probability in that Markov chain, and the mean round trip is linear in those shares. Max
  flows are not unique: ``routing="maxflow"`` (the default, fast: the planner's search) uses our
  own; ``routing="scheduler"`` the helix scheduler's own flows and per-link bandwidths on the
  simulator's placement graph (helix.scheduling, networkx; 2-9x slower), as the validation does.
* **round trip of a token**: per machine, the decode walk of its ``k`` layers at its batch, and
  the waits the simulator's batching makes: tokens of one route travel together (a group of
  ``n_dec * A * B / share``, A and B the forward and backward sums of squared route shares: the
  chance that two tokens share their whole route), and the batch is that group plus what lands
  during a walk; on an idle machine the first token of a group wakes it and walks alone, so the
  rest waits one lone walk (``groups="class"``: machines of the same layers and GPU type count as
  one in the route, since a platoon split over them walks in step and rejoins); on a busy one a
  token waits the rest of the walk in progress (decode walks, and prompt walks of ``P + D``). Per
  link, latency, the token's send time, the wait behind the other tokens of its batch and an M/G/1
  wait behind prompt activations (about 1 s each on a 12.5 MB/s link): this is what prices region
  crossings.
* ``decode="replay"`` (offline, the validation's): the round trip and decode throughput from the decode loop
  replayed on this routing and these costs (:mod:`helix.placement.decode_replay`: platoons, lone
  heads, merges, prompts of the requests' turnover) instead of the closed form; docs/served.md.
* the decode throughput ``T`` solves ``T = min(F_dec, N_dec(T) / RTT(T))`` (prompt and queueing
  terms grow with T) as a fixed point; ``F_dec`` is the decode share of the max-flow, the cap
  (``flow_cap=False``: only the rate at which a link or machine would be busy all the time).
* **the simulator's run** (``run``, default ``SIM_OFFLINE_RUN``): the offline run starts with 20
  requests and launches one more per finished prompt, so it fills at 20 per prompt latency (at
  most what the busiest link serves); a layout of slow prompts (several slow crossings) is still
  filling in the measure window, with fewer requests and many more prompts than in steady state.
  The estimate averages requests in flight, in their prompt and prompts per second over the
  window (``run=None``: steady state).

Online at an arrival rate, the rate is served if the requests it keeps in flight fit the KV limits
and no link or machine is overloaded; otherwise the estimate says ``saturated`` (no number). What a
served rate yields over the simulator's online run (``online_window``, default its 1800 s of
arrivals, measured from the first arrival to the window's end) is what arrives less the run's tail:
a request that arrives ``s`` seconds before the end has its prompt (latency ``P``) and then one
decode token per round trip ``r`` to finish, so the tokens still pending at the end are, per
arriving request, ``P out + r out (out + 1) / 2`` (integrated over ``s``), a share
``(P + r (E[out^2] / E[out] + 1) / 2) / window`` of the offered decode tokens, with ``P`` and ``r``
at the online load. So among layouts that take a rate, the one with the shorter prompt and round
trip serves more of it (``online_window=None``: the steady state, the offered rate).

The estimate is a ranking tool and a search score (validated against the simulator by rule
``estimator_validation``, docs/served.md), not a substitute for the simulator. Cost per layout:
``benchmarks/served.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from helix.errors import HelixInputError
from helix.flow.graph import FlowContext
from helix.flow.maxflow import dinic
from helix.placement.decode_replay import ReplayArc, ReplayNode

FLOW_MASK = 0.05  # the helix scheduler ignores links under 5 % of the sender's flow
FEED_HWM = 0.8  # offline feeder: admit while the worst layer's expected KV use <= 0.8
KV_HWM = {"offline": 0.85, "online": 0.9}  # router masks machines above this expected use
KV_RATIO = {"offline": 1.0, "online": 0.6}  # expected output share counted in the KV expectation
AVG_OUTPUT_LEN = 240  # the scheduler's expected output length
CPU_BUFFER_COST = 1 / 4e9 + 1 / 5e9  # s per activation byte landing on a machine (the simulator's copy cost)
DEFAULT_NIC = 10e9  # bytes/s: the config schema's default NIC (helix/config/schema.py)
# "maxflow": route by our own max flow (fast, the planner's search); "scheduler": by the helix
# scheduler's own max flow and per-link bandwidths, as the simulator does (slower: networkx)
ROUTINGS = ("maxflow", "scheduler")
# requests in flight: "bound" (the closed-form KV bound, fast: the planner's search) or "replay" (the
# offline closed loop's admission replayed, helix.placement.admission; offline only, slower)
ADMISSIONS = ("bound", "replay")
# decode platoons: tokens sharing their whole route ("route", the planner's search) or their route's
# sequence of machine classes (same layers and GPU type: "class", the validation's)
GROUPS = ("route", "class")
# the round trip of a decode token: the closed form ("analytic", the planner's search) or the decode loop
# replayed (helix.placement.decode_replay: the validation's; offline only, needs the trace's lengths)
DECODES = ("analytic", "replay")
# The validated form (the validation's column ``estimate``, and the planner's re-scoring of its served
# search's best layouts, helix.placement.methods.helix): routed as the scheduler routes, platoons by
# machine class, the admission and the decode loop replayed on the trace's lengths (``workload``:
# WorkloadStats.from_lengths), no max-flow cap (the simulator serves up to 1.5 times the max-flow's
# decode share, docs/served.md). One definition, so the planner re-scores with what was validated.
VALIDATED = {
    "routing": "scheduler",
    "groups": "class",
    "admission": "replay",
    "decode": "replay",
    "flow_cap": False,
}
BUSY_CAP = 0.95  # a busy share at or above 1 means overload (caught separately); keeps 1 - busy > 0
# the simulator's offline run (helix/sim/settings.py: HELIX_N_INIT, OFFLINE_WARMUP_S, OFFLINE_MEASURE_S;
# a test keeps them equal): requests launched at its start, and its measure window after the start (s)
SIM_OFFLINE_RUN = (20, 60.0, 660.0)
# the simulator's online run (helix/sim/settings.py: ONLINE_DURATION_S; a test keeps them equal): its
# arrivals span this many seconds and so does its measure window, from the first arrival
SIM_ONLINE_WINDOW = 1800.0


@dataclass(frozen=True)
class WorkloadStats:
    """Moments of the request lengths the estimate needs (tokens)."""

    mean_input: float
    mean_output: float
    input_sq: float  # E[input^2]
    # mean over requests weighted by output length (residence) of input + 240 * ratio, per mode
    kv_tokens: Mapping[str, float]
    # the (inputs, outputs) themselves, for the admission replay (None: moments only)
    pairs: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)
    output_sq: float | None = None  # E[output^2]; None: every output of the mean length

    @property
    def tail_tokens(self) -> float:
        """E[out (out + 1)] / (2 E[out]): the round trips' worth of decode tokens an online run's
        tail loses per offered decode token per second of window (module doc)."""
        sq = self.mean_output**2 if self.output_sq is None else self.output_sq
        return (sq + self.mean_output) / (2 * self.mean_output)

    @classmethod
    def from_lengths(cls, inputs: Sequence[int], outputs: Sequence[int]) -> "WorkloadStats":
        i = np.asarray(inputs, dtype=float)
        o = np.asarray(outputs, dtype=float)
        if i.size == 0 or i.size != o.size or o.sum() <= 0:
            raise HelixInputError(
                "lengths", "input/output", "need equally many input and output lengths, some output > 0"
            )
        kv = {m: float(((i + AVG_OUTPUT_LEN * r) * o).sum() / o.sum()) for m, r in KV_RATIO.items()}
        return cls(
            float(i.mean()),
            float(o.mean()),
            float((i * i).mean()),
            kv,
            pairs=(i, o),
            output_sq=float((o * o).mean()),
        )


# The Azure conversation trace the paper uses (16657 requests); tests check these against the file.
AZURE_CONV = WorkloadStats(
    763.078, 232.449, 779921.2, {"offline": 1164.10, "online": 1068.10}, output_sq=81184.21
)


@dataclass
class Estimate:
    """Served decode throughput of one layout (tokens/s) and what it came from."""

    # decode tokens/s (online: the offered rate less the run's tail; 0 when saturated or no route)
    throughput: float
    max_flow: float  # tokens/s, the max-flow of the layout
    mode: str = "offline"
    saturated: bool = False  # online: the rate cannot be sustained
    reason: str | None = None  # why the estimate is 0 or saturated
    in_flight: float = 0.0  # requests admitted (KV bound)
    in_decode: float = 0.0
    rtt: float = 0.0  # mean seconds per decode token (round trip)
    prompt_latency: float = 0.0
    crossings: float = 0.0  # mean region crossings per route
    optional_crossings: int = 0  # arcs between regions that this estimate's max flow leaves empty
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "throughput": round(self.throughput, 6),
            "max_flow": round(self.max_flow, 6),
            "mode": self.mode,
            "saturated": self.saturated,
            "reason": self.reason,
            "in_flight": round(self.in_flight, 3),
            "in_decode": round(self.in_decode, 3),
            "rtt_s": round(self.rtt, 6),
            "prompt_latency_s": round(self.prompt_latency, 6),
            "crossings": round(self.crossings, 4),
        }


@dataclass
class GpuServing:
    """What the estimate needs of one GPU type running the model (arrays indexed k-1 or batch)."""

    K: int
    kv: np.ndarray  # KV slots (token x layer) of a machine holding k layers
    dm: np.ndarray  # decode tokens per batch, Dm(k)
    dec: np.ndarray  # seconds per layer of a decode batch of b tokens (index b; [0] = [1])
    prompt: float  # seconds per layer of the mean prompt

    @classmethod
    def from_profile(cls, gpu: str, profiles, mean_input: float, source: str) -> "GpuServing":
        """From the model's ``ModelProfiles`` (helix.profiles.entry): engine limits and profile."""
        try:
            lim = profiles.limits(gpu)
            prof = profiles.profile(gpu)
        except HelixInputError as exc:
            raise HelixInputError(
                source,
                f"profiles.{profiles.model}/{gpu}",
                f"no profile or engine limits for GPU type {gpu}: {exc.message}",
                gpu,
            ) from None
        dm = np.array([lim.decode_max(k) for k in range(1, lim.K + 1)], dtype=float)
        b = np.arange(0, int(dm.max()) + 1, dtype=float)
        b[0] = 1.0
        t = np.asarray(prof.decode_times(np.minimum(b, prof.decode.max_tokens)), dtype=float)
        t[1] *= 2.0  # the simulator doubles a lone decode token
        t[0] = t[1]
        kv = np.array([lim.kv_capacity(k) for k in range(1, lim.K + 1)], dtype=float)
        return cls(lim.K, kv, dm, t, float(prof.prompt_time(min(mean_input, prof.prompt.max_tokens))))


class ServedModel:
    """The estimate for one (cluster, model, capacity tables, profiles); call :meth:`estimate`."""

    def __init__(
        self,
        cluster,
        model,
        tables: Sequence[Sequence[float]],
        profiles,
        model_key: str | None = None,
        workload: WorkloadStats = AZURE_CONV,
        ctx: FlowContext | None = None,
        gpu_models: Mapping[str, GpuServing] | None = None,
        routing: str = "maxflow",
        run: tuple[int, float, float] | None = SIM_OFFLINE_RUN,
        admission: str = "bound",
        flow_cap: bool = True,
        groups: str = "route",
        online_window: float | None = SIM_ONLINE_WINDOW,
        decode: str = "analytic",
    ):
        for option, value, allowed in (
            ("routing", routing, ROUTINGS),
            ("admission", admission, ADMISSIONS),
            ("groups", groups, GROUPS),
            ("decode", decode, DECODES),
        ):
            if value not in allowed:
                raise HelixInputError(
                    "served estimate", option, f"{option} must be one of {', '.join(allowed)}", value
                )
        for option, value in (("admission", admission), ("decode", decode)):
            if value == "replay" and workload.pairs is None:
                what = "admission replay" if option == "admission" else "decode replay"
                raise HelixInputError(
                    "served estimate",
                    "workload",
                    f"the {what} needs the trace's lengths (WorkloadStats.from_lengths)",
                )
        if profiles is None and gpu_models is None:
            raise HelixInputError(
                f"cluster {cluster.name}", "profiles", "the served-throughput estimate needs the GPU profiles"
            )
        self.cluster = cluster
        self.ctx = ctx or FlowContext.for_model(cluster, model)
        self.L = int(model.num_layers)
        self.tables = [list(t) for t in tables]
        self.w = workload
        self._decode_trace = None  # the decode replay's trace arrays, made on first use
        gpus: dict[str, GpuServing] = dict(gpu_models or {})
        if any(m.gpu not in gpus for m in cluster.machines):
            from helix.profiles.entry import as_model_profiles

            mp = as_model_profiles(model, profiles)
            for m in cluster.machines:
                if m.gpu not in gpus:
                    gpus[m.gpu] = GpuServing.from_profile(
                        m.gpu, mp, workload.mean_input, f"cluster {cluster.name}"
                    )
        self.gm = [gpus[m.gpu] for m in cluster.machines]
        # per machine, per-layer decode time by batch, padded to the largest Dm (one row each)
        width = max(len(g.dec) for g in self.gm)
        self.dec_all = np.zeros((cluster.n, width))
        for i, g in enumerate(self.gm):
            self.dec_all[i, : len(g.dec)] = g.dec
            self.dec_all[i, len(g.dec) :] = g.dec[-1]
        self.act = float(model.activation_bytes_per_token)
        self.tok = float(model.token_bytes)
        n = cluster.n
        idx = self.ctx.index
        self.region = [m.region for m in cluster.machines]
        self.lat = np.zeros((n + 2, n + 2))  # index n = source, n + 1 = sink
        self.bw = np.zeros((n + 2, n + 2))
        for l in cluster.links:
            a = n if l.a == "source" else n + 1 if l.a == "sink" else idx[l.a]
            b = n if l.b == "source" else n + 1 if l.b == "sink" else idx[l.b]
            self.lat[a, b] = self.lat[b, a] = l.latency
            self.bw[a, b] = self.bw[b, a] = l.bandwidth
        self.coord_bw = (cluster.coordinator.outbound_nic, cluster.coordinator.inbound_nic)
        self.multi_region = len(set(self.region)) > 1
        self.routing = routing
        self.admission = admission
        self.groups = groups  # decode tokens travel together: per route, or per route of classes
        self.decode = decode  # offline round trip: the closed form, or the decode loop replayed
        self.flow_cap = flow_cap  # the max-flow's decode share caps the estimate (False: only overload)
        self.run = run  # offline: (requests at the start, window start, window end); None: steady state
        self.online_window = online_window  # online: the run's length (s); None: steady state
        self.model = model
        self.profiles = None
        if profiles is not None:
            from helix.profiles.entry import as_model_profiles

            self.profiles = as_model_profiles(model, profiles)
        self._typical: dict[
            tuple, object
        ] = {}  # machine mix -> TypicalThroughput (the scheduler's capacities)

    # ------------------------------------------------------------------------------------------
    def estimate_layout(self, layout, mode: str = "offline", rate_tps: float | None = None) -> Estimate:
        starts, sizes = [], []
        for m in self.cluster.machines:
            r = layout.ranges.get(m.name)
            starts.append(r[0] if r else 0)
            sizes.append(r[1] - r[0] if r else 0)
        return self.estimate(starts, sizes, mode, rate_tps)

    def estimate(
        self,
        starts: Sequence[int],
        sizes: Sequence[int],
        mode: str = "offline",
        rate_tps: float | None = None,
    ) -> Estimate:
        return self.estimate_modes(starts, sizes, [(mode, rate_tps)])[0]

    def estimate_modes(
        self, starts: Sequence[int], sizes: Sequence[int], queries: Sequence[tuple[str, float | None]]
    ) -> list[Estimate]:
        """One estimate per ``(mode, rate_tps)`` of ``queries``, on one max flow and routing (what
        :meth:`estimate` gives for each; the max flow and the routing are most of its cost)."""
        for mode, rate_tps in queries:
            if mode not in KV_HWM:
                raise HelixInputError("served estimate", "mode", "mode must be offline or online", mode)
            if mode == "online" and not (rate_tps and rate_tps > 0):
                raise HelixInputError(
                    "served estimate",
                    "rate_tps",
                    "an online estimate needs a positive rate (tokens/s)",
                    rate_tps,
                )

        def none(F: float, reason: str) -> list[Estimate]:
            return [Estimate(0.0, F, mode, mode == "online", reason) for mode, _ in queries]

        L = self.L
        caps = []
        for i, k in enumerate(sizes):
            if k < 0 or k > self.gm[i].K or (k and not 0 <= starts[i] <= L - k):
                bad = f"machine {self.ctx.names[i]} holds an invalid range ({starts[i]}, {k} layers)"
                return none(0.0, bad)
            caps.append(self.tables[i][k - 1] if k else 0.0)
        ends = [s + k for s, k in zip(starts, sizes)]
        used, tails, heads, cap, arcs = self.ctx._arrays(starts, ends, caps)
        if not arcs:
            return none(0.0, "no complete route from the source to the sink")
        F, flows = dinic(2 + 2 * len(used), tails, heads, cap, 0, 1)
        if not F > 1e-9:
            return none(0.0, "no complete route from the source to the sink")
        m0 = len(used)
        if self.routing == "scheduler":
            s_arcs, s_flows, s_bw = self._scheduler_flows(starts, sizes)
            if not sum(f for (a, _), f in zip(s_arcs, s_flows) if a == -1) > 1e-9:
                return none(F, "the helix scheduler's flow graph routes nothing")
            ests = self._routed(starts, sizes, used, s_arcs, s_flows, F, queries, s_bw)
        else:
            ests = self._routed(starts, sizes, used, arcs, flows[m0:], F, queries)
        # crossing arcs our flow leaves empty: the scheduler's own max flow (not unique) may use them
        optional = sum(1 for p, arc in enumerate(arcs) if self._crosses(arc) and flows[m0 + p] <= 1e-9)
        for est in ests:
            est.optional_crossings = optional
        return ests

    def _window(self, n_kv: float, pl: float, q_steady: float, q_cap: float) -> tuple[float, float, float]:
        """Window averages of (requests in flight, requests in their prompt, prompts per second) in
        the simulator's offline run (``self.run``: requests launched at its start, measure window).

        The run starts with n0 requests and each finished prompt launches one more, so n0 prompts
        are always under way while the requests grow, at n0 / PL per second (at most ``q_cap``, what
        the busiest link or machine serves), until the KV bound; then one prompt per finished
        request. On a layout of slow prompts the window still sees that filling phase.
        """
        n0, w0, w1 = self.run
        q_r = min(n0 / pl, q_cap) if pl > 0 else q_cap
        if n_kv <= n0 or not q_r > 0:
            return n_kv, q_steady * pl, q_steady
        t_fill = (n_kv - n0) / q_r

        def area(a, b):  # integral of min(n_kv, n0 + q_r t) over [a, b]
            a2, b2 = min(a, t_fill), min(b, t_fill)
            ramp = n0 * (b2 - a2) + q_r * (b2 * b2 - a2 * a2) / 2 if b2 > a2 else 0.0
            return ramp + n_kv * max(0.0, b - max(a, t_fill))

        span = w1 - w0
        f = min(max((t_fill - w0) / span, 0.0), 1.0)  # share of the window still filling
        return area(w0, w1) / span, f * n0 + (1 - f) * q_steady * pl, f * q_r + (1 - f) * q_steady

    def _crosses(self, arc) -> bool:
        i, j = arc
        return i >= 0 and j >= 0 and self.region[i] != self.region[j]

    def _scheduler_flows(self, starts, sizes) -> tuple[list[tuple[int, int]], list[float], list[float]]:
        """The helix scheduler's own routing of this layout: (arcs, flow per arc, bandwidth per arc).

        Max flows are not unique and the scheduler splits requests by the one its own solver finds,
        so this builds the placement graph the simulator builds from a layout (helix.sim.graph: an
        arc where a range hands over exactly and the cluster has the link, then one pruning pass each
        way) and hands it to :class:`helix.scheduling.helix.HelixScheduler` (its flow graph: token +
        activation bytes on compute links, NIC caps, node capacities tau(k) of the used machines'
        mix) for its flows and its fixed per-link bandwidths. Placement and schedulers sit at the
        same level; nothing here imports the simulator.
        """
        from helix.scheduling.base import LinkView, NodeView, Topology
        from helix.scheduling.helix import HelixScheduler

        n, L = self.cluster.n, self.L
        used = [i for i in range(n) if sizes[i] > 0]
        uid = {i: 2 + p for p, i in enumerate(used)}
        mix: dict[str, int] = {}
        for i in used:
            g = self.cluster.machines[i].gpu
            mix[g] = mix.get(g, 0) + 1
        cap = self._node_capacities(used, sizes, mix)
        nodes = {}
        for i in used:
            m = self.cluster.machines[i]
            nic_in, nic_out = self._nics(m.gpu)
            nodes[uid[i]] = NodeView(
                uid[i], m.name, m.gpu, starts[i], starts[i] + sizes[i], nic_in, nic_out, 0
            )
        arcs = [(-1, i) for i in used if starts[i] == 0 and self.bw[n, i] > 0]
        arcs += [
            (a, b)
            for a in used
            for b in used
            if a != b and starts[b] == starts[a] + sizes[a] and self.bw[a, b] > 0
        ]
        arcs += [(i, -2) for i in used if starts[i] + sizes[i] == L and self.bw[i, n + 1] > 0]
        has_out = {a for a, _ in arcs}
        arcs = [(a, b) for a, b in arcs if b == -2 or b in has_out]
        has_in = {b for _, b in arcs}
        arcs = [(a, b) for a, b in arcs if a == -1 or a in has_in]
        links = []
        for q, (a, b) in enumerate(arcs):
            x, y = (n if a == -1 else a), (n + 1 if b == -2 else b)
            links.append(
                LinkView(
                    q,
                    0 if a == -1 else uid[a],
                    1 if b == -2 else uid[b],
                    float(self.bw[x, y]),
                    float(self.lat[x, y]),
                )
            )
        if not links:
            return [], [], []
        topo = Topology(
            L,
            nodes,
            links,
            coord_out=self.coord_bw[0],
            coord_in=self.coord_bw[1],
            token_size=int(self.tok),
            activation_size=int(self.act),
        )
        sched = HelixScheduler(topo, {uid[i]: cap[i] for i in used}, "offline")
        # a link without flow gets no bandwidth from the scheduler; it carries nothing either way
        bw = [b if b > 0 else links[q].bandwidth for q, b in enumerate(sched.bandwidth)]
        return arcs, list(sched.flows), bw

    def _node_capacities(self, used, sizes, mix) -> dict[int, float]:
        """tau_T(k) on the used machines' mix, as the simulator gives the helix scheduler (without
        profiles, e.g. hand-made test clusters: the capacity tables)."""
        if self.profiles is None:
            return {i: self.tables[i][sizes[i] - 1] for i in used}
        key = tuple(sorted(mix.items()))
        typ = self._typical.get(key)
        if typ is None:
            from helix.profiles.typical import TypicalThroughput

            typ = self._typical[key] = TypicalThroughput(self.profiles, mix)
        return {i: typ.tau(self.cluster.machines[i].gpu, sizes[i]) for i in used}

    def _nics(self, gpu: str) -> tuple[float, float]:
        """The machine's NICs from the config's GPU entry (the schema's default 10e9 B/s otherwise)."""
        e = (self.profiles.gpus.get(gpu) if self.profiles is not None else None) or {}
        get = e.get if isinstance(e, dict) else lambda k, d: getattr(e, k, d)
        return float(get("nic_in", DEFAULT_NIC) or DEFAULT_NIC), float(
            get("nic_out", DEFAULT_NIC) or DEFAULT_NIC
        )

    def _routed(self, starts, sizes, used, arcs, link_flows, F, queries, link_bw=None) -> list[Estimate]:
        n = self.cluster.n
        # routing shares: per sender, links carrying >= 5 % of its flow, split in proportion to flow
        out: dict[int, list[tuple[int, float]]] = {}
        for p, (i, j) in enumerate(arcs):
            f = link_flows[p]
            if f > 1e-12:
                out.setdefault(i, []).append((p, f))
        share = [0.0] * len(arcs)
        for i, lst in out.items():
            tot = sum(f for _, f in lst)
            keep = [(p, f) for p, f in lst if not f < FLOW_MASK * tot]
            kt = sum(f for _, f in keep)
            for p, f in keep:
                share[p] = f / kt
        visit = [0.0] * n
        p_arc = [0.0] * len(arcs)
        by_sender: dict[int, list[int]] = {}
        for p, (i, _) in enumerate(arcs):
            by_sender.setdefault(i, []).append(p)
        for p in by_sender.get(-1, ()):
            p_arc[p] = share[p]
            visit[arcs[p][1]] += p_arc[p]
        for i in sorted(used, key=lambda i: starts[i]):  # arcs go from lower to higher starts
            for p in by_sender.get(i, ()):
                p_arc[p] = visit[i] * share[p]
                j = arcs[p][1]
                if j >= 0:
                    visit[j] += p_arc[p]
        # tokens of one route travel together; two routes through a machine arrive at unrelated
        # times. Per machine, the chance that two tokens share their whole route (forward and backward
        # sums of squared shares) sets the batch a token walks in: n_dec * A * B / visit.
        fwd = [0.0] * n
        for p in by_sender.get(-1, ()):
            fwd[arcs[p][1]] += share[p] ** 2
        order = sorted(used, key=lambda i: starts[i])
        for i in order:
            for p in by_sender.get(i, ()):
                j = arcs[p][1]
                if j >= 0:
                    fwd[j] += fwd[i] * share[p] ** 2
        bwd = [0.0] * n
        for i in reversed(order):
            for p in by_sender.get(i, ()):
                j = arcs[p][1]
                bwd[i] += share[p] ** 2 * (1.0 if j == -2 else bwd[j])
        coll = [fwd[i] * bwd[i] for i in range(n)]
        if self.groups == "class":
            coll = self._class_coll(starts, sizes, used, arcs, p_arc, visit)
        out = []
        for mode, rate_tps in queries:
            est = self._solve(starts, sizes, used, arcs, p_arc, visit, coll, F, mode, rate_tps, link_bw)
            costs = est.detail.pop("costs", None)  # None: no solution to replay with (the bound stays)
            if self.admission == "replay" and mode == "offline" and est.throughput > 0 and costs is not None:
                rep = self._replay(starts, sizes, used, arcs, link_flows, share, costs)
                est = self._solve(
                    starts, sizes, used, arcs, p_arc, visit, coll, F, mode, rate_tps, link_bw, rep.in_flight
                )
                est.detail["replay"] = rep
                est.detail.pop("costs", None)
            decode_inputs = est.detail.pop("decode_inputs", None)
            if decode_inputs is not None:
                est = self._decoded(est, *self._replay_inputs(*decode_inputs[0]), *decode_inputs[1:])
            out.append(est)
        return out

    def _class_coll(self, starts, sizes, used, arcs, p_arc, visit):
        """``coll`` with machines of the same layers and GPU type counted as one (``groups="class"``).

        Decode tokens of one route travel together; a platoon split over parallel machines of the
        same layers and speed walks them in step and rejoins, so tokens travel together when they
        share their route's sequence of such classes, not only its machines. Per class, the sum of
        squared class-route shares (forward and backward, as ``coll``) is the chance that two tokens
        share it; the part of such a platoon on machine ``i`` is its share of the class's visits, so
        ``coll_i = coll_class * (visit_i / visit_class)^2`` and the group ``n_dec coll_i / visit_i``
        is the tokens of the token's class route times the share of them that walk on ``i``."""
        n = self.cluster.n
        key = {i: (starts[i], sizes[i], self.cluster.machines[i].gpu) for i in used}
        cls = sorted(set(key.values()))
        cid = {c: q for q, c in enumerate(cls)}
        of = {i: cid[key[i]] for i in used}
        of[-1], of[-2] = -1, -2
        cv = [0.0] * len(cls)
        for i in used:
            cv[of[i]] += visit[i]
        flow: dict[tuple[int, int], float] = {}
        for p, (i, j) in enumerate(arcs):
            if p_arc[p] > 0:
                e = (of[i], of[j])
                flow[e] = flow.get(e, 0.0) + p_arc[p]
        order = sorted(range(len(cls)), key=lambda c: cls[c][0])
        fwd = [0.0] * len(cls)
        for (a, b), f in flow.items():
            if a == -1 and b >= 0:
                fwd[b] += f * f
        out: dict[int, list[tuple[int, float]]] = {}
        for (a, b), f in flow.items():
            if a >= 0:
                out.setdefault(a, []).append((b, f / cv[a]))
        for c in order:
            for b, sh in out.get(c, ()):
                if b >= 0:
                    fwd[b] += fwd[c] * sh * sh
        bwd = [0.0] * len(cls)
        for c in reversed(order):
            for b, sh in out.get(c, ()):
                bwd[c] += sh * sh * (1.0 if b == -2 else bwd[b])
        coll = [0.0] * n
        for i in used:
            c = of[i]
            cc = fwd[c] * bwd[c]
            coll[i] = cc * visit[i] ** 2 / cv[c] ** 2 if cv[c] > 0 else 0.0
        return coll

    def _replay_inputs(self, on, k, dec, dm, P, arcs, visit, p_arc, lat, s_tok, s_in):
        """The decode replay's machines (those on routes, ``on``) and links (the routing chain's, with
        the share of the sender's routes each takes) with a solution's costs."""
        pos = {i: q for q, i in enumerate(on)}
        nodes = [
            ReplayNode(
                float(k[q]),
                tuple(dec[q, : int(dm[q]) + 1].tolist()),
                int(dm[q]),
                self.act * CPU_BUFFER_COST,
                float(P[q]),
            )
            for q in range(len(on))
        ]
        links = []
        for p, (i, j) in enumerate(arcs):
            v = 1.0 if i == -1 else visit[i]
            on_route = (i == -1 or i in pos) and (j == -2 or j in pos) and v > 0
            links.append(
                ReplayArc(
                    -1 if i == -1 else pos.get(i, -3),
                    -2 if j == -2 else pos.get(j, -3),
                    p_arc[p] / v if on_route else 0.0,
                    float(lat[p]),
                    float(s_tok[p]),
                    float(s_in[p]),
                )
            )
        return nodes, links

    def _decoded(self, est: Estimate, nodes, arcs, n_requests, extra_rate, cap) -> Estimate:
        """``est`` with its decode throughput, requests decoding and round trip from the decode replay
        (helix.placement.decode_replay: DECODE_SEEDS runs over DECODE_WINDOW, averaged) of the
        solution's requests in flight, at most ``cap`` (the max-flow share where the cap is on, and
        the rate at which a link or machine is busy all the time); the prompt latency and the
        requests in flight stay the closed form's."""
        from helix.placement.decode_replay import DECODE_SEEDS, DECODE_WINDOW, DecodeTrace, replay_decode

        if self._decode_trace is None:
            self._decode_trace = DecodeTrace.of(self.w.pairs)
        res = replay_decode(
            nodes, arcs, n_requests, self._decode_trace, DECODE_WINDOW, extra_rate, DECODE_SEEDS
        )
        est.detail["decode_replay"] = res
        est.throughput = min(res.throughput, cap)
        est.in_decode, est.rtt = res.in_decode, res.rtt
        if est.throughput <= 0:
            est.reason = "no decode token finished in the replayed run's window"
        return est

    def _replay(self, starts, sizes, used, arcs, link_flows, share, costs):
        """The admission replay (helix.placement.admission) on this routing: the scheduler's
        candidate links (``share`` > 0: the 5 % mask applied) with their flows, every holder's KV
        slots and the feeder's holder groups, and the per-visit prompt and decode seconds of the
        estimate's solution (``costs``)."""
        from helix.placement.admission import replay

        n, L = self.cluster.n, self.L
        node_cost_arr, link_cost_arr, on = costs
        node_cost = [(0.0, 0.0)] * n
        for q, i in enumerate(on):
            node_cost[i] = (float(node_cost_arr[0][q]), float(node_cost_arr[1][q]))
        links, lcost = [], []
        for p, (i, j) in enumerate(arcs):
            if share[p] > 0:
                links.append((i, j, float(link_flows[p])))
                lcost.append((float(link_cost_arr[0][p]), float(link_cost_arr[1][p])))
        groups, seen = [], set()
        for layer in range(L):
            g = tuple(i for i in used if starts[i] <= layer < starts[i] + sizes[i])
            if g and g not in seen:
                seen.add(g)
                groups.append(g)
        k = [max(sizes[i], 1) for i in range(n)]
        cap = [float(self.gm[i].kv[sizes[i] - 1]) if sizes[i] else 0.0 for i in range(n)]
        return replay(
            n,
            k,
            cap,
            groups,
            links,
            node_cost,
            lcost,
            self.w.pairs,
            KV_HWM["offline"],
            AVG_OUTPUT_LEN * KV_RATIO["offline"],
            FEED_HWM,
            self.run[0] if self.run else SIM_OFFLINE_RUN[0],
        )

    # ------------------------------------------------------------------------------------------
    def _solve(
        self, starts, sizes, used, arcs, p_arc, visit, coll_all, F, mode, rate_tps, link_bw=None, n_in=None
    ) -> Estimate:
        w, L, n = self.w, self.L, self.cluster.n
        x = w.kv_tokens[mode]
        # KV per layer: every holder (the feeder's rule) and holders that carry flow (the router's)
        all_c = np.zeros(L + 1)
        flow_c = np.zeros(L + 1)
        for i in used:
            k = sizes[i]
            per = self.gm[i].kv[k - 1] / k
            all_c[starts[i]] += per
            all_c[starts[i] + k] -= per
            if visit[i] > 1e-9:
                flow_c[starts[i]] += per
                flow_c[starts[i] + k] -= per
        c_all = float(np.cumsum(all_c)[:L].min())
        c_flow = float(np.cumsum(flow_c)[:L].min())
        n_kv = min(FEED_HWM * c_all if mode == "offline" else math.inf, KV_HWM[mode] * c_flow) / x
        if n_in is not None:  # the admission replay's requests in flight (offline)
            n_kv = n_in
        # per-machine arrays (machines on routes)
        on = [i for i in used if visit[i] > 1e-9]
        pv = np.array([visit[i] for i in on])
        k = np.array([sizes[i] for i in on], dtype=float)
        dm = np.array([self.gm[i].dm[sizes[i] - 1] for i in on])
        dec = self.dec_all[on]
        # one mean prompt's walk, plus the copy of its activations through the CPU buffer
        P = k * np.array([self.gm[i].prompt for i in on]) + w.mean_input * self.act * CPU_BUFFER_COST
        # per-link arrays
        pl = np.array(p_arc)
        bw, lat, tokb = [], [], []
        cross = 0.0
        for p, (i, j) in enumerate(arcs):
            a = n if i == -1 else i
            b = n + 1 if j == -2 else j
            bw.append(self.bw[a, b] if link_bw is None else link_bw[p])
            lat.append(self.lat[a, b])
            coord = i == -1 or j == -2
            tokb.append(self.tok if coord else self.act + self.tok)
            if not coord and self.region[i] != self.region[j]:
                cross += p_arc[p]
        bw, lat, tokb = np.array(bw), np.array(lat), np.array(tokb)
        s_tok = tokb / bw
        s_in = w.mean_input * tokb / bw
        s_in2 = w.input_sq * (tokb / bw) ** 2
        mo = w.mean_output
        n_dec_idx = np.arange(len(on))
        coll = np.array([coll_all[i] for i in on])
        D1 = k * dec[n_dec_idx, 1]  # a lone token's walk (the simulator doubles a lone decode)

        def walk(b):
            """Decode walk time per machine at batch b (interpolated, with passes beyond Dm)."""
            bb = np.minimum(np.maximum(b, 1.0), dm)
            lo = np.floor(bb).astype(int)
            hi = np.minimum(lo + 1, dm.astype(int))
            fr = bb - lo
            t = dec[n_dec_idx, lo] * (1 - fr) + dec[n_dec_idx, hi] * fr
            passes = np.maximum(1.0, b / dm)
            return k * t * passes + b * self.act * CPU_BUFFER_COST

        def times(T: float, n_dec: float, q: float | None = None, parts: bool = False):
            """(prompt latency, round trip) at decode throughput T with n_dec requests decoding and
            q prompts per second (default: one per finished request, T / mean output), or None when
            a link or machine would be overloaded."""
            if q is None:
                q = T / mo  # prompts per second
            lam_u = q * pv
            # batch: a token walks with the tokens of its own route (group g) plus those that land
            # while the machine walks (T * share * walk), at most every token through it (convoy)
            g = np.minimum(np.maximum(n_dec * coll / pv, 1.0), np.maximum(n_dec * pv, 1.0))
            b = np.minimum(g + T * pv * walk(g), np.maximum(n_dec * pv, 1.0))  # one step from the group
            D = walk(b)
            # a machine is overloaded when even full batches (Dm) cannot keep up with its tokens
            rho_u = lam_u * P + T * pv * k * dec[n_dec_idx, dm.astype(int)] / dm
            lam_l = q * pl
            rho_l = lam_l * s_in + T * pl * s_tok
            if (rho_u >= 1).any() or (rho_l >= 1).any():
                return None
            wait_l = (lam_l * s_in2 + T * pl * s_tok**2) / (2 * (1 - rho_l))
            burst = np.maximum(n_dec * pl - 1.0, 0.0) / 2 * s_tok  # (convoy bound)
            # per machine: its walk; on an idle machine the first token of a group walks alone and
            # the rest of the group waits for that lone walk (D1); otherwise a token waits for the
            # rest of the walk in progress (the residual of decode walks, D / 2 over the share
            # rho_d, and of prompt walks P + D arriving at lam_u)
            rho_d = np.minimum(T * pv * D / b, BUSY_CAP)  # share of time walking decode batches
            busy = np.minimum(rho_d + lam_u * P, BUSY_CAP)
            stay = D + (1 - 1 / g) * (1 - busy) * D1 + rho_d * D / 2 + lam_u * P * (P / 2 + D)
            rtt = float(pv @ stay + pl @ (lat + s_tok + wait_l + burst))
            pwait = (lam_u * P * P / 2) / (1 - np.minimum(rho_u, 0.999))
            plat = float(pv @ (P + D / 2 + pwait) + pl @ (lat + s_in + wait_l))
            if parts:  # per visit: (prompt, decode) seconds per machine on routes and per link
                return (P + D / 2 + pwait, stay), (lat + s_in + wait_l, lat + s_tok + wait_l + burst)
            return plat, rtt

        # the cap: the decode share of the max-flow, and the rate at which some link or machine
        # would be busy all the time (utilisations grow linearly in T)
        coef = max(
            float((pl * (s_in / mo + s_tok)).max(initial=0.0)),
            float((pv * (P / mo + k * dec[n_dec_idx, dm.astype(int)] / dm)).max(initial=0.0)),
        )
        f_mf = F * mo / (w.mean_input + mo) if self.flow_cap else math.inf
        f_dec = min(f_mf, (1 - 1e-6) / coef if coef > 0 else math.inf)
        est = Estimate(0.0, F, mode, in_flight=n_kv, crossings=cross)

        def q_cap(T: float) -> float:
            """The prompt rate that would keep the busiest link or machine 95 % busy beside T."""
            ql = (BUSY_CAP - T * pl * s_tok) / np.maximum(pl * s_in, 1e-300)
            qu = (BUSY_CAP - T * pv * k * dec[n_dec_idx, dm.astype(int)] / dm) / np.maximum(pv * P, 1e-300)
            return max(float(min(ql.min(initial=math.inf), qu.min(initial=math.inf))), 0.0)

        if mode == "offline":

            def g(T):
                # in decode = in flight - in their prompt; with the simulator's run, averaged over
                # its window (a run still filling holds fewer requests and sends more prompts)
                r = times(T, n_kv)
                for _ in range(2):
                    if r is None:
                        return None
                    if self.run:
                        nw, npr, q = self._window(n_kv, r[0], T / mo, q_cap(T))
                    else:
                        nw, npr, q = n_kv, T / mo * r[0], T / mo
                    nd = max(nw - npr, 0.0)
                    r = times(T, nd, q)
                if r is None:
                    return None
                return nd / r[1], nd, r, (nw, q)

            # fixed point T = min(F_dec, g(T)): g falls as T grows (prompt and queueing terms), so
            # iterate from g(0), averaging once it oscillates; an overload at T steps down
            T, lo = min(f_dec, n_kv / max(times(0.0, n_kv)[1], 1e-12)), 0.0
            for it in range(30):
                r = g(T)
                if r is None:
                    T = 0.7 * T
                    continue
                x = min(f_dec, r[0])
                if abs(x - T) <= 1e-4 * max(T, 1e-9):
                    T = x
                    break
                T = x if it < 2 else (T + x) / 2
            lo = T
            r = g(lo) or (0.0, 0.0, (0.0, 0.0), (n_kv, 0.0))
            est.throughput, est.in_decode = lo, r[1]
            est.prompt_latency, est.rtt = r[2]
            if self.decode == "replay" and lo > 0 and r[1] > 0:
                # what the decode replay needs (run by _routed on the final solution; built there,
                # by _replay_inputs, only for the solution it replays): the machines and the routing
                # chain's links with this solution's costs, the requests in flight (over the run's
                # window) and the prompts a run still filling adds over the steady rate
                nw, q = r[3]
                extra = max(q - lo / mo, 0.0) if self.run else 0.0
                est.detail["decode_inputs"] = (
                    (on, k, dec, dm, P, arcs, visit, p_arc, lat, s_tok, s_in),
                    int(round(nw)),
                    extra,
                    f_dec,
                )
            if self.admission == "replay" and lo > 0:
                costs = times(lo, r[1], None, parts=True)
                if costs is not None:
                    est.detail["costs"] = (*costs, on)
            if lo <= 0:
                est.reason = "no request fits the KV cache of the scarcest layer"
            return est
        # online: the offered rate, if the requests it keeps in flight fit and nothing is overloaded
        q = rate_tps / (w.mean_input + mo)
        T = q * mo
        if T > f_dec:
            est.saturated, est.reason = (
                True,
                (
                    f"the rate needs {T:.1f} decode tok/s, over what the layout can serve "
                    f"({f_dec:.1f}: max-flow share or a link or machine busy all the time)"
                ),
            )
            return est
        nd = 1.0
        r = None
        for _ in range(60):
            r = times(T, nd)
            if r is None:
                break
            new = T * r[1]
            if abs(new - nd) <= 1e-6 * max(nd, 1.0):
                nd = new
                break
            nd = new
        if r is None or nd + q * r[0] > n_kv or not math.isfinite(nd):
            est.saturated = True
            est.reason = (
                "the rate overloads a link or machine"
                if r is None
                else f"the rate keeps {nd + q * r[0]:.0f} requests in flight; the KV cache holds {n_kv:.0f}"
            )
            return est
        # the run's tail: what is still in its prompt or decoding when the window ends (module doc)
        tail = 0.0
        if self.online_window:
            tail = min((r[0] + r[1] * w.tail_tokens) / self.online_window, 1.0)
        est.throughput, est.in_decode, est.prompt_latency, est.rtt = T * (1.0 - tail), nd, r[0], r[1]
        est.detail["offered"] = T
        est.detail["tail_share"] = tail
        return est
