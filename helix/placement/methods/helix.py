"""The Helix planner: warm start, flow-scored search, the MILP (pruned or not), and their portfolio.

``backend`` in the preset chooses what runs within ``time_limit_s``:
* ``portfolio`` (default): the flow-scored search (helix/placement/search.py) from the Petals and
  Swarm layouts for ``heuristic_share`` of the time, then the MILP on ``milp_backend`` seeded with
  the search's best layout as a *complete* start (layout, flows, switches); the best layout wins.
  Why: branch-and-bound alone finds nothing on this model in minutes (docs/design/placement.md s10).
* ``heuristic``: the search alone. ``highs``/``cpsat``/``gurobi``: the MILP alone, warm-started from
  the better of Petals/Swarm as the authors did (s4).

``budget: evaluations`` makes a run reproducible: the search stops after ``max_evaluations`` exact
max-flow evaluations, in lanes of ``lane_evaluations`` (lane n seeded ``seed + n``), and the MILP
after ``milp_max_nodes`` nodes; time_limit_s is then only a safety cap (``budget_hit`` in the notes
says whether it bound). With ``budget: time`` (the benchmark's mode) lanes last LANE_S seconds.

Every incumbent is re-evaluated with the exact max-flow on the *unpruned* cluster and appended to the
trace (seconds since the start, objective, bound, source). The bound is the layer-capacity bound,
or the MILP's own bound if that is lower. With ``prune`` the MILP sees the paper's pruned graph,
plus (``prune_keep_warm_start``) every arc its start layout uses, so the start survives (s11f).
"""

from __future__ import annotations

import time

import numpy as np

from helix.artifact.sol_ini import read_sol_ini
from helix.errors import HelixInputError, PlacementError
from helix.flow.graph import FlowContext
from helix.flow.maxflow import max_flow
from helix.parallel import ordered_map
from helix.placement.base import (
    PlacementMethod,
    PlacementProblem,
    PlacementResult,
    TraceRow,
    layout_from_vectors,
    register,
)
from helix.placement.bounds import problem_bound
from helix.placement.interrupt import STOP
from helix.placement.methods.petals import petals_layout
from helix.placement.methods.separate import separate_layout
from helix.placement.methods.swarm import swarm_layout
from helix.placement.milp.backends import get_backend
from helix.placement.milp.aggregated import aggregated_decode, build_aggregated
from helix.placement.milp.model import build_per_node, decode, start_vector
from helix.placement.pruning import prune_cluster
from helix.placement.search import LayoutSearch
from helix.placement.segments import segment_layouts
from helix.placement.served import VALIDATED, ServedModel, WorkloadStats


LANE_S = 6.0  # seconds per annealing lane of the portfolio's heuristic phase
OPTIONAL_CROSSING_PRICE = 0.01  # served search: score share per crossing arc the flow leaves empty
FLOOR_LANES = 3  # served search: seeded lanes per flow floor, each from the max-flow layout


def _served_score(e) -> float:
    """The served search's value of an estimate.

    Region crossings are priced in twice: through the estimate's round trip (latency, waits behind
    prompts on slow links), and here, 1 % per arc between regions that the estimate's max flow
    leaves empty (at most 10 %): the scheduler follows its own max flow, which may cross there
    (max flows are not unique), so among layouts of nearly equal estimate the search prefers
    those whose boundaries forbid crossings."""
    return e.throughput * (1.0 - min(0.1, OPTIONAL_CROSSING_PRICE * e.optional_crossings))


def _ceiling_score(e, ons, r0: list[float], frac: float, floor: float) -> float:
    """The round-trip ceiling lanes' value of a layout (``Planner.rtt_ceilings``).

    ``e``: its offline estimate; ``ons``: its online estimates at the rates the reference layout
    takes (empty: none, or no online rate configured); ``r0``: the reference's round trips, one per
    online rate (or its offline one when ``ons`` is empty). The served score, falling with the
    fourth power of the shortfall below the max-flow ``floor`` and of the excess over ``frac`` of
    the reference's round trip: the worst ratio over the online rates, or the offline round trip.
    A layout the online estimate finds saturated at a rate the reference takes scores 0: it would
    lose what the reference serves there."""
    v = _served_score(e)
    if v <= 0:
        return v
    if e.max_flow < floor:
        v *= (e.max_flow / floor) ** 4
    if not ons:
        cap = frac * r0[0]
        return v if e.rtt <= cap else v * (cap / e.rtt) ** 4
    if any(on.saturated for on in ons):
        return 0.0
    x = max(on.rtt / r for on, r in zip(ons, r0))
    return v if x <= frac else v * (frac / x) ** 4


def _arc_capacity_fn(ctx: FlowContext):
    def cap(u: int, v: int) -> float:
        if u == -1:
            return ctx.source_cap[v]
        if v == -2:
            return ctx.sink_cap[u]
        return ctx.link_cap[u][v]

    return cap


class Planner:
    """One solve: holds the incumbent, the trace and the clock."""

    def __init__(self, problem: PlacementProblem):
        self.p = problem
        self.s = problem.settings
        self.ctx = problem.context()
        self.tables = [list(problem.table(i)) for i in range(problem.cluster.n)]
        self.ub = problem_bound(problem)
        self.t0 = time.monotonic()
        self.trace: list[TraceRow] = []
        self.best: tuple[float, list[int], list[int]] | None = None
        self.last_improve = self.t0
        self.counted = self.s.budget == "evaluations"
        self.budget_hit: str | None = None  # "time" when the wall clock ended a counted run

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def value(self, starts, sizes) -> float:
        ends = [a + k for a, k in zip(starts, sizes)]
        caps = [self.tables[i][k - 1] if 0 < k <= len(self.tables[i]) else 0.0 for i, k in enumerate(sizes)]
        return self.ctx.value(starts, ends, caps)

    def offer(self, value: float, starts, sizes, source: str, bound: float | None = None) -> None:
        b = self.ub if bound is None else min(self.ub, bound)
        if self.best is None or value > self.best[0] + 1e-9:
            self.best = (value, list(starts), list(sizes))
            self.last_improve = time.monotonic()
            self.trace.append(TraceRow(round(self.elapsed(), 3), value, b, source))

    def should_stop(self) -> bool:
        if STOP.is_set():
            return True
        if self.best is not None and self.best[0] >= self.s.early_stop_ratio * self.ub:
            return True
        if self.counted:  # counts decide; the wall clock is only the safety cap
            if self.elapsed() >= self.s.time_limit_s:
                self.budget_hit = "time"
                return True
            return False
        idle = self.s.early_stop_idle_s
        return idle is not None and time.monotonic() - self.last_improve >= idle

    # ----- warm starts ----------------------------------------------------------------------
    def warm_starts(self) -> dict[str, tuple[list[int], list[int]]]:
        p, s = self.p, self.s
        out: dict[str, tuple[list[int], list[int]]] = {}
        if p.warm_start_file is not None:
            layout = (
                read_sol_ini(p.warm_start_file, p.L, p.cluster)
                if str(p.warm_start_file).endswith(".ini")
                else None
            )
            if layout is None:
                from helix.layout import Layout

                layout = Layout.load(p.warm_start_file, p.cluster)
            missing = [m.name for m in p.cluster.machines if m.name not in layout.ranges]
            if missing or layout.num_layers != p.L:
                raise HelixInputError(
                    p.warm_start_file,
                    "layers",
                    f"warm start does not match cluster {p.cluster.name}",
                    missing[:3] or layout.num_layers,
                )
            starts = [layout.ranges[m.name][0] if layout.ranges[m.name] else 0 for m in p.cluster.machines]
            sizes = [
                layout.ranges[m.name][1] - layout.ranges[m.name][0] if layout.ranges[m.name] else 0
                for m in p.cluster.machines
            ]
            for i, k in enumerate(sizes):
                if k > len(self.tables[i]):
                    raise HelixInputError(
                        p.warm_start_file,
                        f"layers.{p.cluster.machines[i].name}",
                        f"holds more than K={len(self.tables[i])} layers",
                        k,
                    )
            out["file"] = (starts, sizes)
            return out
        if s.warm_start in ("petals", "best"):
            out["petals"] = petals_layout(p, s.seed)
        if s.warm_start in ("swarm", "best"):
            try:
                out["swarm"] = swarm_layout(p)
            except PlacementError:
                if s.warm_start == "swarm":
                    raise
        if s.warm_start == "best":
            # the even chain per GPU type (the paper's warm start for its per-type 30B solves),
            # when every machine can hold its share without exceeding K
            try:
                layout, _ = separate_layout(p)
            except PlacementError:
                layout = None
            if layout is not None:
                starts = [
                    layout.ranges[m.name][0] if layout.ranges.get(m.name) else 0 for m in p.cluster.machines
                ]
                sizes = [
                    layout.ranges[m.name][1] - starts[i] if layout.ranges.get(m.name) else 0
                    for i, m in enumerate(p.cluster.machines)
                ]
                if all(k <= len(self.tables[i]) for i, k in enumerate(sizes)):
                    out["separate"] = (starts, sizes)
        if s.warm_start != "none" and all(self.value(st, sz) <= 0 for st, sz in out.values()):
            # Petals and Swarm can both route nothing on a cluster the paper never saw (e.g. few
            # large GPUs among many that hold only a few layers each), and a flow-scored search has
            # no gradient from zero: start from whole pipelines instead, so any cluster that can
            # hold the model in one chain gets a routable incumbent.
            chain = self.chain_start()
            if chain is not None:
                out["chain"] = chain
        return out

    def chain_start(self) -> tuple[list[int], list[int]] | None:
        """Pipelines of consecutive ranges, largest K first (ties by machine order); machines
        left over once no further whole pipeline fits hold nothing. None if no chain routes."""
        n, L = self.p.cluster.n, self.p.L
        order = sorted(range(n), key=lambda i: (-len(self.tables[i]), i))
        starts, sizes = [0] * n, [0] * n
        pos, chain, best = 0, [], None
        for i in order:
            k = min(len(self.tables[i]), L - pos)
            if k <= 0:
                continue
            starts[i], sizes[i] = pos, k
            chain.append(i)
            pos += k
            if pos == L:
                best = (list(starts), list(sizes))
                pos, chain = 0, []
        if best is None:
            return None
        st, sz = best
        return (st, sz) if self.value(st, sz) > 0 else None

    # ----- phases -----------------------------------------------------------------------------
    def heuristic(self, seconds: float, warm: dict, seed: int | None = None) -> None:
        t0 = time.monotonic()
        seed = self.s.seed if seed is None else seed
        if not warm:
            warm = {"petals": petals_layout(self.p, self.s.seed)}
        for name, (st, sz) in warm.items():
            self.offer(self.value(st, sz), st, sz, f"warm:{name}")
        # One chain per warm start (a start with no flow is skipped when another has some: annealing
        # from a dead layout rarely finds a route). Chains take turns in short lanes (LANE_S), each
        # lane continuing from its chain's best with a fresh seed, or from the warm start again when
        # the previous lane found nothing better: the annealing is high-variance
        # (on geo24 some seeds sit at 952 for a minute while others pass 1212 in 5 s), and the
        # chains keep apart the Petals start, which improves slowly on hetero42, from the Swarm
        # start, which stalls there (docs/design/placement.md s10).
        values = {name: self.value(*lay) for name, lay in warm.items()}
        origins = [
            (values[name], lay) for name, lay in warm.items() if values[name] > 0 or max(values.values()) <= 0
        ]
        chains = list(origins)
        n = 0
        evals_left = self.s.max_evaluations
        while not self.should_stop():
            left = seconds - (time.monotonic() - t0)
            if self.counted:
                if evals_left <= 0:
                    break
                lane_evals = min(self.s.lane_evaluations, evals_left)
            elif left <= 0.05:
                break
            c = n % len(chains)
            search = LayoutSearch(self.ctx, self.tables, seed=seed + n)
            v, st, sz = search.run(
                [chains[c][1]],
                min(LANE_S, left),
                max_evals=lane_evals if self.counted else None,
                on_improve=lambda v, st, sz: self.offer(v, st, sz, "heuristic"),
                stop=self.should_stop,
            )
            evals_left -= search.evals
            # a lane that improved its chain hands on its best; one that did not sends the chain back
            # to its warm start for a fresh trajectory (the global best is kept by ``offer``)
            chains[c] = (v, (st, sz)) if v > chains[c][0] + 1e-9 else origins[c]
            n += 1

    def maxflow_search(self, seconds: float, warm: dict) -> int:
        """The served planner's step 1: the max-flow search (:meth:`heuristic`), and while its
        best is still a warm start (no lane beat them), up to ``maxflow_retries`` further
        searches from the same warm starts, search q seeding its lanes from ``seed + q * lanes``
        (lanes: max_evaluations / lane_evaluations, rounded up), so none repeats a lane seed. The
        best layout of all of them stays. Returns how many searches ran.

        Why: a search that ends at its warm start has failed, not converged, and every later step
        starts from its layout (hetero42 at seed 1: no lane of 100,000 evaluations beat the
        Swarm start, 4892 tok/s, and the written layout simulated 636 tok/s; a second search
        reached 5107 and the written layout 717; docs/served.md, "Results"). A search that did
        improve is kept as it is, so the retry costs nothing where the first search works."""
        s = self.s
        lanes = -(-s.max_evaluations // s.lane_evaluations)
        self.heuristic(seconds, warm)
        warm_best = max((self.value(st, sz) for st, sz in warm.values()), default=0.0)
        q = 0
        while (
            q < s.maxflow_retries
            and self.best is not None
            and self.best[0] <= warm_best + 1e-9
            and not self.should_stop()
        ):
            q += 1
            self.heuristic(seconds, warm, seed=s.seed + q * lanes)
        return q + 1

    def served(self, warm: dict) -> dict:
        """Maximise the served-throughput estimate (``objective: served``); returns notes.

        Candidates: the warm starts and the region-aware segment starts (helix/placement/segments.py),
        each scored by the estimate; then annealing lanes (``lane_evaluations`` each, seeded per lane)
        from the best few, with the estimate as the value, until ``served_evaluations`` estimates
        are spent. Every lane's best joins a pool; the ``rerank`` best distinct layouts of the pool
        are simulated by ``problem.rerank`` when given, and the best simulated one wins.
        """
        p, s = self.p, self.s
        sm = ServedModel(
            p.cluster,
            p.model,
            self.tables,
            p.profiles,
            p.model_key or None,
            ctx=self.ctx,
            online_window=s.rerank_online_duration_s,
        )
        budget = s.served_evaluations
        used = 0
        pool: dict[tuple, float] = {}

        def score(st, sz) -> float:
            return _served_score(sm.estimate(st, sz))

        def add(v, st, sz, source):
            key = (tuple(st), tuple(sz))
            if v > 0 and key not in pool:
                pool[key] = v
            if self.best is None or v > self.best[0] + 1e-9:
                self.best = (v, list(st), list(sz))
                self.trace.append(TraceRow(round(self.elapsed(), 3), v, None, source))

        starts: list[tuple[float, list[int], list[int]]] = []
        for name, (st, sz) in warm.items():
            v = score(st, sz)
            used += 1
            add(v, st, sz, f"served:warm:{name}")
            starts.append((v, list(st), list(sz)))
        K = [min(len(t), p.L) for t in self.tables]
        for st, sz in segment_layouts([m.region for m in p.cluster.machines], K, self.tables, p.L):
            if used >= budget // 4 or self.should_stop():  # the starts: at most a quarter of the budget
                break
            v = score(st, sz)
            used += 1
            add(v, st, sz, "served:segments")
            starts.append((v, st, sz))
        starts.sort(key=lambda r: -r[0])
        # chains from the best distinct starts; a lane that finds nothing better sends its chain back
        origins = [(v, (st, sz)) for v, st, sz in starts[:4] if v > 0]
        if not origins:
            return {"evaluations": used}
        chains = list(origins)
        n = 0
        while used < budget and not self.should_stop():
            c = n % len(chains)
            search = LayoutSearch(self.ctx, self.tables, seed=s.seed + n, score=score)
            v, st, sz = search.run(
                [chains[c][1]],
                LANE_S,
                max_evals=min(s.lane_evaluations, budget - used),
                on_improve=lambda v, st, sz: add(v, st, sz, "served:search"),
                stop=self.should_stop,
            )
            used += search.evals
            chains[c] = (v, (st, sz)) if v > chains[c][0] + 1e-9 else origins[c]
            n += 1
        notes: dict = {"evaluations": used, "estimate": round(self.best[0], 6)}
        # flow floors: the estimate annealed from the max-flow layout, keeping most of its max-flow
        mf = warm.get("maxflow")
        floors = self.flow_floors(mf, sm, s.served_flow_floors) if mf is not None else []
        for _, st, sz in floors:
            pool.setdefault((tuple(st), tuple(sz)), score(st, sz))
        if floors:
            notes["floors"] = [
                {"floor": f, "estimate": round(pool[(tuple(st), tuple(sz))], 3)} for f, st, sz in floors
            ]
        ranked = sorted(pool.items(), key=lambda kv: (-kv[1], kv[0]))
        cands: list[tuple[str, list[int], list[int]]] = []

        def take(name, st, sz) -> None:
            """A candidate once; a layout found again under another name is noted as 'a+b'."""
            for q, (n0, a, b) in enumerate(cands):
                if a == list(st) and b == list(sz):
                    cands[q] = (f"{n0}+{name}", a, b)
                    return
            if self.value(st, sz) > 0:
                cands.append((name, list(st), list(sz)))

        picked = 0
        for (st, sz), v in ranked:  # distinct: each differs from every pick on >= 3 machines
            if picked >= max(1, s.rerank):
                break
            if any(
                sum(a != c or (b != d and (b or d)) for a, b, c, d in zip(st, sz, p0, p1)) < 3
                for _, p0, p1 in cands
            ):
                continue
            if self.value(st, sz) > 0:
                take(f"estimate{picked}", st, sz)
                picked += 1
        if s.rerank > 1:
            # what the estimate may misjudge, re-ranked beside its best: the flow-floor layouts,
            # the max-flow layout and the warm starts, so that the simulated choice is never
            # worse than any of them
            seen_f: dict[float, int] = {}
            for f, st, sz in floors:
                seen_f[f] = seen_f.get(f, 0) + 1
                take(f"floor{f:g}" + (f".{seen_f[f] - 1}" if seen_f[f] > 1 else ""), st, sz)
            if mf is not None:
                take("maxflow", *mf)
            for name, (st, sz) in warm.items():
                if name != "maxflow":
                    take(f"warm:{name}", st, sz)
        for _, st, sz in cands:
            pool.setdefault((tuple(st), tuple(sz)), score(st, sz))
        # interrupted (SIGINT/SIGTERM): the best by the estimate, no more simulations
        if s.rerank and p.rerank is not None and len(cands) > 1 and not STOP.is_set():
            keep = [
                q
                for q, (_, a, b) in enumerate(cands)
                if mf is not None and a == list(mf[0]) and b == list(mf[1])
            ]

            seen_c: dict[float, int] = {}
            first: list = []  # the first round's reference: every round's ceilings and floor

            def add(named) -> list[int]:
                """Take the (name, starts, sizes) candidates ``named``, score them; their indices in
                ``cands`` (a layout already there is renamed 'a+b' by ``take`` and not added)."""
                n0 = len(cands)
                for name, a, b in named:
                    take(name, a, b)
                for _, a, b in cands[n0:]:
                    pool.setdefault((tuple(a), tuple(b)), score(a, b))
                return list(range(n0, len(cands)))

            def ceilings(st, sz, rnd: int = 0) -> list[int]:
                """Round ``rnd`` of the round-trip ceilings, from the simulator's best layout so
                far and held to the first round's reference: their new candidates (named on from
                the earlier rounds')."""
                if not first:
                    first.append((st, sz))
                ref = next(n for n, a, b in cands if a == list(st) and b == list(sz))
                rounds = notes.setdefault("ceiling_rounds", [])
                rounds.append({"round": rnd, "from": ref, "after": len(cands)})
                found = self.rtt_ceilings((st, sz), sm, s.served_rtt_ceilings, rnd, first[0])
                notes.setdefault("ceilings", []).extend(
                    {"ceiling": f, "estimate": round(score(a, b), 3), "round": rnd} for f, a, b in found
                )
                named = []
                for f, a, b in found:
                    seen_c[f] = seen_c.get(f, 0) + 1
                    named.append((f"rtt{f:g}" + (f".{seen_c[f] - 1}" if seen_c[f] > 1 else ""), a, b))
                return add(named)

            def validated() -> list[int]:
                """The validated re-scoring's picks of the search's pool, after the ceiling rounds
                (their new candidates; one already simulated is renamed 'a+b')."""
                picks = self.validated_picks(ranked, s.rerank, sm.ctx)
                if picks:
                    notes["validated"] = [round(v, 3) for v, _, _ in picks]
                return add([(f"validated{q}", a, b) for q, (_, a, b) in enumerate(picks)])

            i, rows = self.rerank(
                cands, keep, ceilings if s.served_rtt_ceilings else None, validated if s.rerank > 1 else None
            )
            notes["rerank"] = [
                {**r, "estimate": round(pool[(tuple(st), tuple(sz))], 3)}
                for r, (_, st, sz) in zip(rows, cands)
            ]
            _, st, sz = cands[i]
            v = pool[(tuple(st), tuple(sz))]
            self.best = (v, st, sz)
            self.trace.append(TraceRow(round(self.elapsed(), 3), v, None, f"served:rerank:{cands[i][0]}"))
        return notes

    def validated_picks(self, ranked, picks: int, ctx) -> list[tuple[float, list[int], list[int]]]:
        """The ``picks`` best distinct layouts (each differing from the others on at least 3
        machines) among the ``validated_candidates`` best of ``ranked`` (the served search's pool,
        best first by the planner's estimate), by the validation's form of the estimate: routed as
        the helix scheduler routes, decode platoons by machine class, admission and decode loop
        replayed on the trace's lengths, no max-flow cap (``served.VALIDATED``, the options
        ``helix.planning.validation``'s ``validation_model`` uses too). Scored in ``threads``
        worker processes.

        Why: the planner's closed form (our own max flow, the KV bound, the closed-form round
        trip) is flat where the served search ends: on geo24 the search's best layouts all score
        within 1 % (145.0-145.4 at the planner's seed 1) while the simulator serves them at
        125-154 tok/s, so which of them the re-ranking sees is a draw; the validation's form
        orders them (Spearman 0.86-0.91 against the simulator over the 18 best of the pool at
        seeds 1 and 2, against 0.12 and -0.43 for the planner's form; docs/served.md). Too slow
        for the search (tens to hundreds of ms a layout), it re-scores only the search's best few.
        Empty when off, without the trace's lengths, or interrupted."""
        p, s = self.p, self.s
        if s.validated_candidates <= 0 or p.lengths is None or not ranked or STOP.is_set():
            return []
        vm = ServedModel(
            p.cluster,
            p.model,
            self.tables,
            p.profiles,
            p.model_key or None,
            workload=WorkloadStats.from_lengths(*p.lengths),
            ctx=ctx,
            **VALIDATED,
        )
        top = [(list(st), list(sz)) for (st, sz), _ in ranked[: s.validated_candidates]]

        def job(st, sz):
            return lambda: vm.estimate(st, sz).throughput

        vals = ordered_map([job(st, sz) for st, sz in top], s.threads, stop=self.should_stop)
        if len(vals) < len(top):  # interrupted
            return []
        order = sorted(range(len(top)), key=lambda q: (-vals[q], q))
        out: list[tuple[float, list[int], list[int]]] = []
        for q in order:
            st, sz = top[q]
            if len(out) >= picks or not vals[q] > 0:
                break
            if all(
                sum(a != c or (b != d and (b or d)) for a, b, c, d in zip(st, sz, p0, p1)) >= 3
                for _, p0, p1 in out
            ):
                out.append((vals[q], st, sz))
        return out

    def flow_floors(self, mf, sm: ServedModel, fractions) -> list[tuple[float, list[int], list[int]]]:
        """Per fraction f: the best score annealed from the max-flow layout ``mf`` with its
        max-flow held (softly) at f of mf's or above; FLOOR_LANES seeded lanes, counted."""
        s = self.s
        f0 = self.value(*mf)
        out = []
        if f0 <= 0:
            return out
        per_lane = max(1, s.floor_evaluations // FLOOR_LANES)
        for q, frac in enumerate(fractions):
            floor = frac * f0

            def fscore(st, sz, floor=floor):
                e = sm.estimate(st, sz)
                v = _served_score(e)
                return v if e.max_flow >= floor else v * (e.max_flow / floor) ** 4

            out += [(frac, st, sz) for st, sz in self._lanes(mf, fscore, s.seed + 1000 * (q + 1), per_lane)]
        return out

    def rtt_ceilings(
        self, ref, sm: ServedModel, fractions, rnd: int = 0, anchor=None
    ) -> list[tuple[float, list[int], list[int]]]:
        """Per fraction f: the best score annealed from ``ref`` with the estimated per-token round
        trip held (softly) at f of ``anchor``'s (default: ref's) or below; ``ceiling_lanes`` seeded
        lanes, counted (round ``rnd`` takes the lane seeds after the earlier rounds').

        Why: an online run at a rate below capacity serves what arrives, less what is still being
        decoded when its window ends; that tail grows with the per-token round trip at the run's
        load, so a layout with a shorter round trip there serves more online. The round trip is
        the online estimate's at each rate of ``rerank_online_tps`` that ref takes (the worst
        ratio to ref's over those rates; a layout that cannot take one of them scores 0), and the
        offline estimate's where there is no such rate: the offline round trip, at full batches,
        ranks layouts differently from the online one (docs/served.md, "Round-trip ceilings").
        Later rounds (``ceiling_rounds``) start from the best layout simulated so far but keep the
        first round's ceilings and floor (``anchor``): held to their own start, a good start's
        lanes end where they began (hetero42 at seed 2, docs/served.md)."""
        s = self.s
        online = [("online", r) for r in s.rerank_online_tps]
        e0, *ons0 = sm.estimate_modes(*(anchor or ref), [("offline", None), *online])
        rates = [r for r, on in zip(s.rerank_online_tps, ons0) if not on.saturated]
        r0 = [on.rtt for on in ons0 if not on.saturated] if rates else [e0.rtt]
        out = []
        if not min(r0, default=0.0) > 0:
            return out
        # the lowest flow floor holds here too, relative to ref's max-flow: a shorter round trip
        # bought with KV room and flow costs offline what it gains online
        floor = min(s.served_flow_floors, default=0.0) * e0.max_flow
        per_lane = max(1, s.floor_evaluations // FLOOR_LANES)
        queries = [("offline", None)] + [("online", r) for r in rates]
        for q, frac in enumerate(fractions):

            def cscore(st, sz, frac=frac):
                # one max flow and routing for the offline estimate and the online ones
                e, *ons = sm.estimate_modes(st, sz, queries)
                return _ceiling_score(e, ons, r0, frac, floor)

            seed = s.seed + 2000 * (q + 1) + rnd * s.ceiling_lanes
            lanes = self._lanes(ref, cscore, seed, per_lane, s.ceiling_lanes, s.ceiling_candidates)
            out += [(frac, st, sz) for st, sz in lanes]
        return out

    def _lanes(
        self, start, score, seed: int, per_lane: int, lanes: int = FLOOR_LANES, keep: int | None = None
    ) -> list[tuple[list[int], list[int]]]:
        """``lanes`` seeded searches from ``start`` under ``score`` (seeds ``seed + lane``, at most
        ``per_lane`` evaluations each), in ``threads`` worker processes (helix/parallel.py: the
        same lanes and results as one after the other); the ``keep`` (default
        ``floor_candidates``) best layouts, best first, ties by lane."""

        def lane_job(lane: int):
            def job():
                search = LayoutSearch(self.ctx, self.tables, seed=seed + lane, score=score)
                v, st, sz = search.run(
                    [(list(start[0]), list(start[1]))], LANE_S, max_evals=per_lane, stop=self.should_stop
                )
                return v, lane, st, sz

            return job

        found = ordered_map([lane_job(q) for q in range(lanes)], self.s.threads, stop=self.should_stop)
        found.sort(key=lambda r: (-r[0], r[1]))
        return [(st, sz) for _, _, st, sz in found[: self.s.floor_candidates if keep is None else keep]]

    def rerank(self, cands, keep: list[int], extend=None, late=None) -> tuple[int, list[dict]]:
        """Simulate the candidates (``problem.rerank``); the index of the best and a row each.

        With ``rerank_screen_s`` every candidate is simulated that long first, then the
        ``rerank_final`` best of the screen and the candidates at ``keep`` (the max-flow layout)
        get the full simulation; the best full simulation wins (ties: the earlier one).
        ``extend(starts, sizes, round)``, given the best fully simulated layout, appends candidates
        to ``cands`` and returns their indices; they get the full simulation too (the round-trip
        ceilings), ``ceiling_rounds`` times, each round from the best simulated layout so far.
        ``late()``, after the rounds, appends the last candidates (the validated re-scoring's
        picks) and returns their indices; they get the full simulation and take part in the
        choice, never in the rounds' references, so the rounds run as without them.
        With ``rerank_online_tps`` the choice is :meth:`rerank_online`'s."""
        s, rr = self.s, self.p.rerank
        vec = [(st, sz) for _, st, sz in cands]
        rows = [{"candidate": name} for name, _, _ in cands]
        final = list(range(len(cands)))
        if s.rerank_screen_s > 0 and len(cands) > s.rerank_final:
            screen = rr(vec, duration_s=s.rerank_screen_s)
            for r, x in zip(rows, screen):
                r["screened"] = round(x, 3)
            final = sorted(range(len(cands)), key=lambda q: (-screen[q], q))[: s.rerank_final]
            final += [q for q in keep if q not in final]
            final.sort()
        full = rr([vec[q] for q in final])

        def simulate(new: list[int]) -> int:
            """Simulate the candidates ``extend`` or ``late`` appended at ``new``; the best so far."""
            vec.extend((st, sz) for _, st, sz in cands[len(vec) :])
            rows.extend({"candidate": name} for name, _, _ in cands[len(rows) :])
            for r, (name, _, _) in zip(rows, cands):  # a layout found again is renamed "a+b"
                r["candidate"] = name
            final.extend(new)
            full.extend(rr([vec[q] for q in new]) if new else [])
            return max(range(len(final)), key=lambda j: (full[j], -final[j]))

        best = simulate([])
        for rnd in range(s.ceiling_rounds if extend is not None else 0):
            if full[best] <= 0 or STOP.is_set():
                break
            best = simulate(extend(*vec[final[best]], rnd))
        if late is not None and not STOP.is_set():
            best = simulate(late())
        for q, x in zip(final, full):
            rows[q]["simulated"] = round(x, 3)
        if s.rerank_online_tps and full[best] > 0:
            best = self.rerank_online(vec, final, full, rows)
        return final[best], rows

    def rerank_online(self, vec, final: list[int], full: list[float], rows: list[dict]) -> int:
        """The serving-aware choice among the fully simulated candidates ``final`` (offline
        throughputs ``full``); returns an index into ``final``.

        Candidates are simulated online at each of ``rerank_online_tps`` in order of offline
        throughput, best first; one the simulator cannot run at a rate (e.g. every link masked)
        is out, and the walk stops below ``rerank_online_margin`` of the best offline throughput
        among those that run. Each remaining candidate is scored by its offline throughput plus
        each online one, every term relative to the best of them, and the best score wins (ties:
        the higher offline throughput, then the earlier candidate); if none runs online, the
        offline choice stands. Why: one layout serves both workloads, and below capacity online
        throughput is what arrives less what is still decoding when the window ends, which grows
        with the round trip, so the offline optimum is often not the best online
        (docs/served.md, "Round-trip ceilings")."""
        s, rr = self.s, self.p.rerank
        order = sorted((j for j in range(len(final)) if full[j] > 0), key=lambda j: (-full[j], final[j]))
        top = None
        runs: dict[int, list[float]] = {}
        i, keep = 0, 1.0 - s.rerank_online_margin
        while i < len(order):
            if top is not None and full[order[i]] < keep * top:
                break
            # the candidates this walk reaches for certain, simulated together (in the reranker's
            # worker processes): those within the margin of ``top``, or of this one's offline
            # throughput while none runs online (the first that runs is no better than it)
            ref = full[order[i]] if top is None else top
            batch = [j for j in order[i:] if full[j] >= keep * ref]
            sims = [rr([vec[final[j]] for j in batch], rate_tps=rate) for rate in s.rerank_online_tps]
            for b, j in enumerate(batch):
                on = [sim[b] for sim in sims]
                for rate, x in zip(s.rerank_online_tps, on):
                    rows[final[j]][f"online@{rate:g}"] = round(x, 3)
                if all(x > 0 for x in on):
                    top = full[j] if top is None else top
                    runs[j] = on
            i += len(batch)
        if not runs:  # no candidate runs online: the offline choice
            return order[0] if order else 0
        best_on = [max(on[r] for on in runs.values()) for r in range(len(s.rerank_online_tps))]
        score = {j: full[j] / top + sum(x / b for x, b in zip(on, best_on)) for j, on in runs.items()}
        for j, v in score.items():
            rows[final[j]]["score"] = round(v, 6)
        return max(score, key=lambda j: (round(score[j], 9), full[j], -final[j]))

    def milp(
        self, backend: str, seconds: float, start: tuple[list[int], list[int]] | None, size_out: dict
    ) -> dict:
        p, s = self.p, self.s
        arc_cap = _arc_capacity_fn(self.ctx)
        full = build_per_node(p.cluster, self.tables, p.L, arc_cap)
        self.sizes(size_out)
        if s.formulation == "aggregated" or (
            s.formulation == "auto" and self.aggregated_is_exact() and not s.prune
        ):
            return self._milp_aggregated(backend, seconds, start, size_out)
        cluster = p.cluster
        if s.prune:
            keep = []
            if s.prune_keep_warm_start and start is not None:
                keep = self._used_arcs(*start)
            cluster = prune_cluster(p.cluster, s.prune_keep, s.prune_keep, s.prune_threshold, keep_arcs=keep)
            sub_ctx = FlowContext.for_model(cluster, p.model)
            model = build_per_node(cluster, self.tables, p.L, _arc_capacity_fn(sub_ctx))
            size_out["solved"] = "pruned"
            size_out["pruned_with_warm_start_arcs"] = model.size()
        else:
            model = full
            sub_ctx = self.ctx
            size_out["solved"] = "unpruned"
        x0 = None
        if start is not None:
            x0 = start_vector(model, start[0], start[1], self._index_flows(sub_ctx, *start), p.L)

        def to_layout(x):
            return decode(model, x)

        return self._solve(backend, model, x0, seconds, to_layout)

    def sizes(self, size_out: dict) -> dict:
        """Table 8: the per-node model's size on the full cluster and after the paper's pruning."""
        if "unpruned" not in size_out:
            p, s = self.p, self.s
            size_out["unpruned"] = build_per_node(
                p.cluster, self.tables, p.L, _arc_capacity_fn(self.ctx)
            ).size()
            pruned = prune_cluster(p.cluster, s.prune_keep, s.prune_keep, s.prune_threshold)
            size_out["pruned"] = build_per_node(
                pruned, self.tables, p.L, _arc_capacity_fn(FlowContext.for_model(pruned, p.model))
            ).size()
        return size_out

    def aggregated_is_exact(self) -> bool:
        same = {}
        for i, m in enumerate(self.p.cluster.machines):
            if same.setdefault(m.gpu, self.tables[i]) != self.tables[i]:
                return False
        return max(max(t) for t in self.tables) <= self.ctx.network_floor

    def _milp_aggregated(self, backend, seconds, start, size_out) -> dict:
        p = self.p
        cap_max = max(max(t) for t in self.tables)
        if cap_max > self.ctx.network_floor:
            raise PlacementError(
                "placement preset",
                "formulation",
                f"the aggregated model is exact only when no link can bind; "
                f"cluster {p.cluster.name} has links slower than a machine",
                "aggregated",
            )
        gpus = list(p.cluster.gpu_mix())
        mtype = [gpus.index(m.gpu) for m in p.cluster.machines]
        types = [(g, p.cluster.gpu_mix()[g], self.tables[mtype.index(t)]) for t, g in enumerate(gpus)]
        if any(self.tables[i] != types[mtype[i]][2] for i in range(p.cluster.n)):
            raise PlacementError(
                "placement preset",
                "formulation",
                "the aggregated model needs one capacity table per GPU type",
                "aggregated",
            )
        model = build_aggregated(types, p.L, flow_cap=self.ub)
        size_out["aggregated"] = model.size()
        size_out["solved"] = "aggregated"
        decode_fn = lambda m: lambda x: aggregated_decode(m, x, mtype)  # noqa: E731
        if start is None:
            return self._solve(backend, model, None, seconds, decode_fn(model))
        # With an incumbent: ask "is incumbent + tol reachable?" until the answer is no (optimal
        # within tol) or time runs out. Each feasible answer is a strictly better layout.
        info: dict = {}
        deadline = time.monotonic() + seconds
        while not self.should_stop():
            left = deadline - time.monotonic()
            if left <= 0.5:
                break
            best = self.best[0]
            target = best + max(0.01, 1e-6 * best)
            model = build_aggregated(types, p.L, flow_cap=self.ub, target=target)
            info = self._solve(backend, model, None, left, decode_fn(model), feasibility=True)
            if info["status"] == "infeasible":
                self.ub = min(self.ub, target)
                self.trace.append(
                    TraceRow(round(self.elapsed(), 3), self.best[0], self.ub, f"milp:{backend}:optimal")
                )
                info["status"] = "optimal"
                info["tolerance"] = target - best
                break
            if self.best[0] < target - 1e-6:
                break  # time limit without an answer
        return info

    def _solve(self, backend, model, x0, seconds, to_layout, feasibility: bool = False) -> dict:
        p, s = self.p, self.s
        if s.write_model != "none" and p.work_dir is not None:
            write_model_file(model, p.work_dir / f"model.{s.write_model}", s.write_model)
        settings = s.model_copy(update={"time_limit_s": max(1.0, seconds)})

        def on_incumbent(sec, obj, bound, x):
            st, sz = to_layout(x)
            if all(k <= len(self.tables[i]) and st[i] + k <= p.L and st[i] >= 0 for i, k in enumerate(sz)):
                # a feasibility model's dual bound says nothing about the flow
                valid = not feasibility and not (
                    s.prune and s.formulation != "aggregated"
                )  # pruned bounds do not bound the full graph
                self.offer(self.value(st, sz), st, sz, f"milp:{backend}", bound if valid else None)

        outcome = get_backend(backend).solve(model, x0, settings, on_incumbent, self.should_stop)
        if outcome.x is not None:
            on_incumbent(None, outcome.objective, outcome.bound, outcome.x)
        info = {"status": outcome.status, "objective": outcome.objective, "bound": outcome.bound}
        if feasibility:
            info = {"status": outcome.status}
            return info
        if outcome.status == "optimal" and outcome.objective is not None and not s.prune:
            # a proven optimum closes the gap; record the bound at the end of the trace
            self.ub = min(self.ub, max(outcome.objective, self.best[0] if self.best else 0.0))
            if self.best is not None:
                self.trace.append(
                    TraceRow(round(self.elapsed(), 3), self.best[0], self.ub, f"milp:{backend}:optimal")
                )
        elif outcome.bound is not None and outcome.bound < self.ub and not s.prune:
            self.ub = outcome.bound
        return info

    def _used_arcs(self, starts, sizes) -> list[tuple[str, str]]:
        ends = [a + k for a, k in zip(starts, sizes)]
        caps = [self.tables[i][k - 1] if k else 0.0 for i, k in enumerate(sizes)]
        return [(u, v) for u, v, _ in self.ctx.graph(starts, ends, caps).arcs]

    def _index_flows(self, ctx: FlowContext, starts, sizes) -> dict[tuple[int, int], float]:
        ends = [a + k for a, k in zip(starts, sizes)]
        caps = [self.tables[i][k - 1] if k else 0.0 for i, k in enumerate(sizes)]
        res = max_flow(ctx.graph(starts, ends, caps))
        idx = self.p.cluster.index()
        conv = lambda x, end: end if x in ("source", "sink") else idx[x]  # noqa: E731
        return {(conv(u, -1), conv(v, -2)): f for (u, v), f in res.arc_flows.items()}


def write_model_file(model, path, fmt: str) -> None:
    """model.lp / model.mps through HiGHS's writer (atomic: written beside, then renamed)."""
    import highspy

    from helix.io import atomic_path

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = model.A.shape[1], model.A.shape[0]
    lp.col_cost_ = model.c
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_lower_ = model.col_lo
    lp.col_upper_ = np.where(np.isinf(model.col_hi), highspy.kHighsInf, model.col_hi)
    lp.row_lower_ = np.where(np.isinf(model.row_lo), -highspy.kHighsInf, model.row_lo)
    lp.row_upper_ = np.where(np.isinf(model.row_hi), highspy.kHighsInf, model.row_hi)
    csc = model.A.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = csc.indptr, csc.indices, csc.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.col_names_, lp.row_names_ = model.col_names, model.row_names
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in model.integrality
    ]
    h.passModel(lp)
    with atomic_path(path) as tmp:
        target = tmp.with_suffix(f".{fmt}")
        h.writeModel(str(target))
        target.replace(tmp)


@register("helix")
class HelixPlanner(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        problem.check_fits()
        s = problem.settings
        planner = Planner(problem)
        warm = planner.warm_starts()
        size_info: dict = {}
        milp_info = None
        T = s.time_limit_s
        served_notes = None
        if s.objective == "served":
            # the max-flow search first (cheap evaluations): its best layout joins the served
            # search's starts, so the served planner never starts below the max-flow planner
            if s.max_evaluations > 0:
                searches = planner.maxflow_search(T * s.heuristic_share, warm)
                if planner.best is not None and planner.best[0] > 0:
                    warm = {**warm, "maxflow": (planner.best[1], planner.best[2])}
                planner.best = None
            served_notes = planner.served(warm)
            if s.max_evaluations > 0:
                served_notes["maxflow_searches"] = searches
            planner.sizes(size_info)
        elif s.backend == "heuristic":
            planner.heuristic(T, warm)
            planner.sizes(size_info)
        elif s.backend == "portfolio":
            planner.heuristic(T * s.heuristic_share, warm)
            remaining = T - planner.elapsed()
            # counted runs always hand over to the MILP (its node limit ends it); timed runs only
            # when time is left
            if (planner.counted or remaining > 0.5) and not planner.should_stop():
                milp_info = planner.milp(
                    s.milp_backend, remaining, (planner.best[1], planner.best[2]), size_info
                )
        else:
            for name, (st, sz) in warm.items():
                planner.offer(planner.value(st, sz), st, sz, f"warm:{name}")
            start = (planner.best[1], planner.best[2]) if planner.best else None
            milp_info = planner.milp(s.backend, T, start, size_info)
        if planner.best is None or planner.best[0] <= 0:
            raise PlacementError(
                f"cluster {problem.cluster.name}",
                "links",
                f"no layout routes all {problem.L} layers from the coordinator back to it within {T:g} s",
            )
        value, starts, sizes = planner.best
        layout = layout_from_vectors(problem.cluster, problem.L, starts, sizes)
        solver = {"portfolio": f"heuristic+{s.milp_backend}", "heuristic": "heuristic"}.get(
            s.backend, s.backend
        )
        if s.objective == "served":
            solver = (
                "served-search+rerank" if problem.rerank is not None and s.rerank > 1 else "served-search"
            )
        result = self.finish(
            problem,
            layout,
            "helix",
            upper_bound=planner.ub,
            solver=solver,
            seconds=round(planner.elapsed(), 3),
            trace=planner.trace,
        )
        result.milp_size = size_info or None
        result.notes = {"milp": milp_info, "interrupted": STOP.is_set(), "budget": s.budget}
        if served_notes is not None:
            result.notes["objective"] = "served"
            result.notes["served"] = served_notes
        if planner.counted:
            result.notes["budget_hit"] = planner.budget_hit or "evaluations"
        return result
