"""Validation of the served-throughput estimate against the simulator (rule estimator_validation).

For one (cluster, model) the layouts are: the paper's (imported from the artifact onto our cluster,
where the artifact has one for that pair and it routes without partial inference), ours (the
placement rule's helix and helix-maxflow layouts, given as files), the baselines (petals, swarm,
separate, computed here), region-aware segment starts, and seeded random feasible layouts (random
walks of the planner's moves from those layouts, keeping at least half of the start's max-flow).
Each row: max-flow, the estimate (offline, routed as the helix scheduler routes: its own max flow,
``ServedModel(routing="scheduler")``), the same estimate with the planner's fast routing (our own
max flow, ``estimate_fast``), and the simulated offline decode throughput through the own-layout
path (helix.sim.graph), helix scheduler. ``summarize`` gives per cluster the Spearman correlation
of both estimates and of max-flow with the simulation, and the share of pairs each orders like the
simulator.

Besides the throughputs, each row has the two factors of Little's law on both sides, so a
misordered pair says which factor the estimate got wrong: requests in flight (the estimate's KV
bound; the simulation's time average over the measure window) and the round trip of a decode
token (the estimate's; the simulation's by Little, requests in decode over decode throughput),
with what the router did in the simulation: the share of launches it rejected and the mean
input of the requests in flight (the trace's is 763 tokens; below it, the admission favours short
prompts). ``summarize`` also gives the mean absolute log error of the estimate and of each factor.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

from helix.errors import HelixInputError, HelixRunError, PlacementError

COLUMNS = [
    "cluster",
    "model",
    "layout",
    "source",
    "max_flow",
    "estimate",
    "estimate_fast",
    "crossings",
    "simulated",
    "in_flight",
    "in_flight_simulated",
    "rtt",
    "rtt_simulated",
    "rejected_share",
    "input_in_flight",
    # the estimate's admission replay (helix.placement.admission): the same two figures on its side;
    # empty when the validation runs without the trace's lengths (the closed-form KV bound)
    "rejected_share_replay",
    "input_in_flight_replay",
]
# the simulation's closed-loop figures (closed_loop_stats): empty when the simulate callable gives
# only the decode throughput
SIM_STATS = ("in_flight_simulated", "rtt_simulated", "rejected_share", "input_in_flight")
NUMERIC = tuple(c for c in COLUMNS if c not in ("cluster", "model", "layout", "source"))
RANDOM_LAYOUTS = 3  # seeded random walks per (cluster, model)
SEGMENT_LAYOUTS = 2  # best region-aware segment starts per (cluster, model), by estimate


def _vectors(cluster, layout) -> tuple[list[int], list[int]]:
    st, sz = [], []
    for m in cluster.machines:
        r = layout.ranges.get(m.name)
        st.append(r[0] if r else 0)
        sz.append(r[1] - r[0] if r else 0)
    return st, sz


def candidate_layouts(
    problem, artifact_dir: str | Path | None, own: dict[str, str | Path], seed: int
) -> list[tuple[str, str, object]]:
    """(name, source, Layout) of every layout to validate; names are unique and stable."""
    from helix.artifact.sol_ini import read_sol_ini
    from helix.layout import Layout
    from helix.placement.base import layout_from_vectors
    from helix.placement.methods.petals import petals_layout
    from helix.placement.methods.separate import separate_layout
    from helix.placement.methods.swarm import swarm_layout
    from helix.placement.search import LayoutSearch
    from helix.placement.segments import segment_layouts
    from helix.placement.served import ServedModel
    from helix.sim.paper import paper_files

    cl, L = problem.cluster, problem.L
    tables = [list(problem.table(i)) for i in range(cl.n)]
    out: list[tuple[str, str, object]] = []
    if artifact_dir is not None:
        for method in ("paper-helix", "paper-swarm", "paper-petals", "paper-helix-noprune"):
            try:
                sol, _ = paper_files(artifact_dir, problem.cluster_key, problem.model_key, method)
                if sol.is_file():
                    out.append((method, "paper", read_sol_ini(sol, L, cl)))
            except HelixInputError:
                continue  # no such layout for this pair (or split into parts)
    for name, path in own.items():
        out.append((name, "ours", Layout.load(path, cl)))
    base: list[tuple[str, tuple[list[int], list[int]]]] = []
    for name, fn in (("petals", lambda: petals_layout(problem, 0)), ("swarm", lambda: swarm_layout(problem))):
        try:
            base.append((name, fn()))
        except PlacementError:
            pass
    try:
        lay, _ = separate_layout(problem)
        out.append(("separate", "baseline", lay))
    except PlacementError:
        pass
    for name, (st, sz) in base:
        out.append((name, "baseline", layout_from_vectors(cl, L, st, sz)))
    sm = ServedModel(cl, problem.model, tables, problem.profiles, problem.model_key, routing="scheduler")
    K = [min(len(t), L) for t in tables]
    seg = sorted(
        (
            (sm.estimate(st, sz).throughput, st, sz)
            for st, sz in segment_layouts([m.region for m in cl.machines], K, tables, L)
        ),
        key=lambda r: -r[0],
    )
    for q, (_, st, sz) in enumerate(seg[:SEGMENT_LAYOUTS]):
        out.append((f"segments{q}", "segments", layout_from_vectors(cl, L, st, sz)))
    # seeded random feasible layouts: walks from each layout so far, keeping >= half its max-flow
    search = LayoutSearch(sm.ctx, tables, seed=seed)
    rng = random.Random(seed)
    starts = [_vectors(cl, lay) for _, _, lay in out]
    starts = [
        (st, sz) for st, sz in starts if all(k <= K[i] for i, k in enumerate(sz)) and search.value(st, sz) > 0
    ]
    # the same layout under two names (the paper's swarm is our swarm) counts once, first name kept
    seen, unique = set(), []
    for name, source, lay in out:
        key = tuple(sorted(lay.used().items()))
        if key not in seen:
            seen.add(key)
            unique.append((name, source, lay))
    out = unique
    made = 0
    for q in itertools.count():
        if made >= RANDOM_LAYOUTS or q >= 50 * RANDOM_LAYOUTS or not starts:
            break
        st, sz = starts[q % len(starts)]
        v0 = search.value(st, sz)
        for _ in range(rng.randint(4, 20)):
            st2, sz2 = search.neighbour(st, sz)
            if search.value(st2, sz2) >= 0.5 * v0:
                st, sz = st2, sz2
        lay = layout_from_vectors(cl, L, st, sz)
        key = tuple(sorted(lay.used().items()))
        if key not in seen and search.value(st, sz) > 0:
            seen.add(key)
            out.append((f"random{made}", "random", lay))
            made += 1
    return out


def closed_loop_stats(queries, window: tuple[float, float], decode_tps: float) -> dict:
    """What the simulated run's admission did over its measure window, from its queries (objects
    with ``arrival``, ``prompt_fin``, ``finish``, ``rejected`` and ``input``; NaN times: not reached).

    ``in_flight_simulated``: time average of the admitted requests between arrival and finish;
    ``rtt_simulated``: by Little, the time average of those past their prompt over ``decode_tps``;
    ``rejected_share``: of the launches arriving in the window, the share the router rejected;
    ``input_in_flight``: mean input of the requests in flight, weighted by their time in the window.
    """
    w0, w1 = window
    span = w1 - w0
    flight = prompt = weighted_in = 0.0
    launched = rejected = 0
    for q in queries:
        if w0 <= q.arrival < w1:
            launched += 1
            rejected += bool(q.rejected)
        if q.rejected:
            continue
        end = q.finish if q.finish == q.finish else w1  # NaN: still in flight at the end
        pend = q.prompt_fin if q.prompt_fin == q.prompt_fin else w1
        stay = max(0.0, min(end, w1) - max(q.arrival, w0))
        flight += stay
        prompt += max(0.0, min(pend, w1) - max(q.arrival, w0))
        weighted_in += stay * q.input
    return {
        "in_flight_simulated": flight / span if span > 0 else 0.0,
        "rtt_simulated": (flight - prompt) / span / decode_tps if span > 0 and decode_tps > 0 else 0.0,
        "rejected_share": rejected / launched if launched else 0.0,
        "input_in_flight": weighted_in / flight if flight > 0 else 0.0,
    }


def simulate_with_stats(
    cluster, layout, model, profiles, gpus: dict, lengths, seed: int = 0, **workload
) -> dict:
    """One offline simulation of ``layout`` through the own-layout path (helix.sim.graph), helix
    scheduler, configured protocol unless ``workload`` (WorkloadSpec fields) says otherwise, as
    :func:`helix.planning.rerank.simulate_layout` runs it: its metrics and :func:`closed_loop_stats`."""
    from helix.profiles.entry import as_model_profiles
    from helix.sim.graph import graph_from_layout
    from helix.sim.run import simulate
    from helix.sim.settings import WorkloadSpec

    profiles = as_model_profiles(model, profiles)
    src = f"layout on {cluster.name}"
    sc = graph_from_layout(cluster, layout, profiles, gpus, source=src)
    wl = WorkloadSpec(mode="offline", seed=seed, **workload)
    out = simulate(model, sc, dict(layout.used()), profiles, "helix", wl, lengths, None, source=src)
    tps = out.metrics["decode_throughput_tps"]
    return {**out.metrics, **closed_loop_stats(out.result.queries, out.window, tps)}


def validation_model(problem, lengths=None):
    """The estimate the validation scores (column ``estimate``): routed as the helix scheduler routes,
    with decode platoons by machine class (``groups="class"``), and, given the trace's ``lengths``
    (inputs, outputs), with the admission replayed (``admission="replay"``), the decode loop replayed
    for the round trip (``decode="replay"``, helix.placement.decode_replay) and no max-flow cap
    (``flow_cap=False``: the simulator serves up to 1.5 times the max-flow's decode share,
    docs/served.md); without them the closed-form KV bound and round trip."""
    from helix.placement.served import VALIDATED, ServedModel, WorkloadStats

    cl = problem.cluster
    tables = [problem.table(i) for i in range(cl.n)]
    kw: dict = {"routing": VALIDATED["routing"], "groups": VALIDATED["groups"]}
    if lengths is not None:
        kw = {**VALIDATED, "workload": WorkloadStats.from_lengths(*lengths)}
    return ServedModel(cl, problem.model, tables, problem.profiles, problem.model_key, **kw)


def validate(
    problem,
    layouts,
    simulate: Callable[[object], float | dict],
    progress: Callable[[str], None] | None = None,
    lengths=None,
) -> list[dict]:
    """One row per layout that routes (the others are reported through ``progress`` and skipped).

    ``simulate(layout)``: the simulated offline decode throughput, or a dict with it
    (``decode_throughput_tps``) and the :data:`SIM_STATS` (:func:`simulate_with_stats`);
    ``lengths``: the trace's (inputs, outputs), for the estimate's admission replay
    (:func:`validation_model`)."""
    from helix.placement.served import ServedModel

    cl = problem.cluster
    tables = [problem.table(i) for i in range(cl.n)]
    sm = validation_model(problem, lengths)
    fast = ServedModel(cl, problem.model, tables, problem.profiles, problem.model_key, ctx=sm.ctx)
    rows = []
    for name, source, lay in layouts:
        st, sz = _vectors(cl, lay)
        if any(k > len(problem.table(i)) for i, k in enumerate(sz)):
            if progress:
                progress(f"{name}: skipped (a machine holds more than K layers)")
            continue
        e = sm.estimate(st, sz)
        if e.throughput <= 0:
            if progress:
                progress(f"{name}: skipped ({e.reason})")
            continue
        try:
            got = simulate(lay)
        except (HelixInputError, HelixRunError) as exc:  # bad layout, or a simulated KV overflow
            if progress:
                progress(f"{name}: skipped, simulator: {exc.one_line()}")
            continue
        stats = got if isinstance(got, dict) else {}
        s = float(stats["decode_throughput_tps"]) if stats else float(got)
        ef = fast.estimate(st, sz)
        rp = e.detail.get("replay")
        rows.append(
            {
                "cluster": problem.cluster_key,
                "model": problem.model_key,
                "layout": name,
                "source": source,
                "max_flow": round(e.max_flow, 4),
                "estimate": round(e.throughput, 4),
                "estimate_fast": round(ef.throughput, 4),
                "crossings": round(e.crossings, 4),
                "simulated": round(s, 4),
                "in_flight": round(e.in_flight, 4),
                "rtt": round(e.rtt, 6),
                **{k: (round(float(stats[k]), 6) if k in stats else "") for k in SIM_STATS},
                "rejected_share_replay": round(rp.rejected_share, 6) if rp else "",
                "input_in_flight_replay": round(rp.input_in_flight, 6) if rp else "",
            }
        )
        if progress:
            more = (
                f"; in flight {e.in_flight:.1f} vs {stats['in_flight_simulated']:.1f}, round trip "
                f"{e.rtt:.3f} vs {stats['rtt_simulated']:.3f} s, {stats['rejected_share']:.0%} rejected"
                if stats
                else ""
            )
            progress(
                f"{name}: max-flow {e.max_flow:.1f}, estimate {e.throughput:.1f}, simulated {s:.1f} tok/s"
                + more
            )
    return rows


def rows_csv(rows: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in COLUMNS})
    return buf.getvalue()


def read_rows(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in NUMERIC:
            if k in r:
                r[k] = float(r[k]) if r[k] != "" else None
    return rows


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    v = spearmanr(a, b)[0]
    return None if v != v else float(v)


def _pairs(a: Sequence[float], b: Sequence[float]) -> tuple[int, int]:
    """Pairs with different simulated values, and how many of them ``a`` orders the same way."""
    n = ok = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            if b[i] == b[j]:
                continue
            n += 1
            ok += (a[i] - a[j]) * (b[i] - b[j]) > 0
    return n, ok


def summarize(rows: Sequence[dict]) -> dict:
    """Per cluster (both models pooled) and per cluster/model: Spearman and pair ordering of the
    estimate, of the fast-routed estimate (where the rows have it) and of max-flow."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["cluster"], []).append(r)
        groups.setdefault(f"{r['cluster']}/{r['model']}", []).append(r)
    out = {}
    for key in sorted(groups):
        g = groups[key]
        sim = [r["simulated"] for r in g]
        est = [r["estimate"] for r in g]
        mf = [r["max_flow"] for r in g]
        n, ok_e = _pairs(est, sim)
        _, ok_m = _pairs(mf, sim)
        out[key] = {
            "layouts": len(g),
            "spearman_estimate": _spearman(est, sim),
            "spearman_max_flow": _spearman(mf, sim),
            "pairs": n,
            "pairs_ordered_estimate": ok_e,
            "pairs_ordered_max_flow": ok_m,
        }
        # which factor of Little's law errs: mean |log(estimate / simulation)| of the throughput,
        # of the requests in flight and of the round trip (where the rows have them)
        for key_out, a, b in (
            ("log_error_estimate", "estimate", "simulated"),
            ("log_error_in_flight", "in_flight", "in_flight_simulated"),
            ("log_error_rtt", "rtt", "rtt_simulated"),
        ):
            vals = [(r.get(a), r.get(b)) for r in g]
            if vals and all(x is not None and y is not None and x > 0 and y > 0 for x, y in vals):
                out[key][key_out] = round(sum(abs(math.log(x / y)) for x, y in vals) / len(vals), 4)
        if all("estimate_fast" in r for r in g):
            fast = [r["estimate_fast"] for r in g]
            out[key]["spearman_estimate_fast"] = _spearman(fast, sim)
            out[key]["pairs_ordered_estimate_fast"] = _pairs(fast, sim)[1]
    return out
