"""Served-throughput benchmark: the estimate's cost, and max-flow vs served throughput per planner.

1. Cost of one served-throughput estimate (helix/placement/served.py) against one exact max-flow
   evaluation of the same layout, measured in this run (ms per layout and the ratio), on the
   paper's layouts and the baselines of single24, geo24 and hetero42 (LLaMA-2 70B); and of the
   estimate routed by the helix scheduler's own max flow (``routing="scheduler"``, what the
   estimator validation uses) against the default one.
2. The cost of the estimate the validation scores (``validation_model``: the scheduler's routing,
   class platoons, the admission and the decode loop replayed on the trace's lengths in
   resources/traces) on every validation layout (rebuilt as rule estimator_validation_case builds
   them, from results/), with its parts (the scheduler's routing, the admission replay, the decode
   replay, the rest) and, measured in the same run, the same estimate with the replays'
   Python loops instead of the compiled ones (the ratio); wall time, and this thread's CPU time,
   which leaves out the other jobs on a shared machine. Two calls per layout: the decode replay
   makes one take up to about 0.1 s (its Python loop several seconds).
3. The table of the figure results/figures/served_throughput.pdf, from the configured runs in
   results/ (run `snakemake --cores 2 served` first): per cluster, the paper's layout, the max-flow
   planner (helix-maxflow) and the serving-aware planner (helix): max-flow and simulated decode
   throughput offline and online (helix scheduler), with the ratios helix / paper and
   helix / helix-maxflow. Every layout is simulated through our own-layout path (helix.sim.graph;
   the paper's as paper-helix@graph), so the ratios compare layouts on one placement-graph path.

    python benchmarks/served.py [--clusters single24 geo24 hetero42] [--repeat 50]
"""

from __future__ import annotations

import argparse
import time

from paper_setup import CONFIG, REPO, paper_setup


BUDGET_MS = 20.0  # the budget for one served-throughput estimate of a layout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", nargs="+", default=["single24", "geo24", "hetero42"])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--config", default=CONFIG)
    args = ap.parse_args()
    setup = paper_setup(args.config)

    from helix.artifact.sol_ini import read_sol_ini
    from helix.errors import PlacementError
    from helix.placement.methods.petals import petals_layout
    from helix.placement.methods.swarm import swarm_layout
    from helix.placement.served import ServedModel
    from helix.planning.workflow import comparison_table
    from helix.sim.paper import paper_files

    artifact, model, store = setup.artifact, setup.model, setup.store
    print(
        "| cluster | layout | max-flow (ms) | estimate (ms) | ratio estimate / max-flow | estimate (tok/s) "
        "| estimate, scheduler routing (ms) | ratio to the estimate | its estimate (tok/s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = worst_sched = 0.0
    for name in args.clusters:
        problem = setup.problem(name)
        cluster = problem.cluster
        tables = [list(problem.table(i)) for i in range(cluster.n)]
        sm = ServedModel(cluster, model, tables, store, "llama70b")
        sched = ServedModel(cluster, model, tables, store, "llama70b", routing="scheduler", ctx=sm.ctx)
        layouts = {"petals": petals_layout(problem, 0)}
        try:
            layouts["swarm"] = swarm_layout(problem)
        except PlacementError:
            pass
        sol, _ = paper_files(artifact, name, "llama70b", "paper-helix")
        lay = read_sol_ini(sol, 80, cluster)
        layouts["paper-helix"] = (
            [lay.ranges[m.name][0] if lay.ranges.get(m.name) else 0 for m in cluster.machines],
            [
                lay.ranges[m.name][1] - lay.ranges[m.name][0] if lay.ranges.get(m.name) else 0
                for m in cluster.machines
            ],
        )
        for lname, (st, sz) in layouts.items():
            ends = [a + k for a, k in zip(st, sz)]
            caps = [tables[i][k - 1] if k else 0.0 for i, k in enumerate(sz)]
            sm.estimate(st, sz)  # warm caches
            t0 = time.perf_counter()
            for _ in range(args.repeat):
                sm.ctx.value(st, ends, caps)
            mf = (time.perf_counter() - t0) / args.repeat * 1e3
            t0 = time.perf_counter()
            for _ in range(args.repeat):
                e = sm.estimate(st, sz)
            es = (time.perf_counter() - t0) / args.repeat * 1e3
            worst = max(worst, es)
            sched.estimate(st, sz)
            reps = max(args.repeat // 10, 3)
            t0 = time.perf_counter()
            for _ in range(reps):
                es2 = sched.estimate(st, sz)
            ss = (time.perf_counter() - t0) / reps * 1e3
            worst_sched = max(worst_sched, ss)
            print(
                f"| {name} | {lname} | {mf:.2f} | {es:.2f} | {es / mf:.1f} | {e.throughput:.1f} | {ss:.2f} "
                f"| {ss / es:.1f} | {es2.throughput:.1f} |",
                flush=True,
            )
    print(
        f"\nslowest estimate: {worst:.2f} ms per layout (budget {BUDGET_MS:g} ms); with the scheduler's "
        f"routing (the validation's): {worst_sched:.2f} ms\n"
    )

    replay_cost(setup.cfg, 2)  # the decode replay's Python loop makes a call take seconds

    rows = comparison_table(str(REPO))
    by = {(r["cluster"], r["layout"]): r for r in rows}

    def fmt(v):
        return "missing" if v is None else f"{v:.1f}"

    def ratio(a, b):
        return "-" if a is None or not b else f"{a / b:.2f}"

    print(
        "| cluster | layout | max-flow (tok/s) | offline decode (tok/s) | online decode (tok/s) at rate "
        "| helix / this, offline | helix / this, online |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        h = by[(r["cluster"], "helix")]
        print(
            f"| {r['cluster']} | {r['layout']} | {fmt(r['max_flow'])} | {fmt(r['offline'])} "
            f"| {fmt(r['online'])} at {r['rate']:g} | "
            f"{ratio(h['offline'], r['offline'])} | {ratio(h['online'], r['online'])} |"
        )
    print("\n(every layout simulated through our own-layout path, helix.sim.graph)")
    return 0


def validation_problems(cfg):
    """(cluster, model) -> placement problem of every validation case, built as rule
    estimator_validation_case builds it (scripts/validation_case.py: the cluster from results/clusters,
    the profiles from resources/profiles); None where its inputs are missing."""
    from helix.artifact.source import ArtifactSource
    from helix.cluster import Cluster
    from helix.models import load_hf_config
    from helix.placement.api import make_problem
    from helix.placement.settings import PlacementPreset
    from helix.planning.workflow import VALIDATION_CASES
    from helix.profiles.entry import model_profiles
    from helix.profiles.store import ProfileStore

    source = ArtifactSource.at(cfg.artifact_dir())
    gpus = {k: v.model_dump(mode="json") for k, v in cfg.gpus.items()}
    out = {}
    for c, m in VALIDATION_CASES:
        path = REPO / f"results/clusters/{c}.yaml"
        own = {
            meth: REPO / f"results/placements/{c}/{m}/{meth}/layout.yaml"
            for meth in ("helix", "helix-maxflow")
        }
        if not path.is_file() or not all(f.is_file() for f in own.values()):
            out[(c, m)] = None
            continue
        entry = cfg.models[m].model_dump(mode="json")
        spec = load_hf_config(
            source.path(entry["config_json"]),
            m,
            param_bytes_per_layer_override=entry.get("param_bytes_per_layer"),
        )
        profiles = model_profiles(
            spec, gpus, ProfileStore(str(REPO / "resources/profiles")), source="config gpus"
        )
        cluster = Cluster.load(path)
        out[(c, m)] = (make_problem(cluster, spec, m, PlacementPreset(), profiles, source.root, c), own)
    return out


def _timed(fn, reps: int) -> tuple[float, float, float, object]:
    """(mean ms, best ms, mean CPU ms of this thread, last result) of ``reps`` calls. The CPU time
    leaves out the time other processes hold the cores (this machine is shared)."""
    times, cpu, res = [], 0.0, None
    for _ in range(reps):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
        cpu += time.thread_time() - c0
    return sum(times) / reps * 1e3, min(times) * 1e3, cpu / reps * 1e3, res


def replay_cost(cfg, reps: int) -> None:
    """The validation's estimate (helix.planning.validation.validation_model: the scheduler's routing,
    class platoons, the admission and the decode loop replayed on the trace's lengths) on every
    validation layout, with what its parts cost (the scheduler's routing: networkx's preflow-push;
    the admission replay; the decode replay, helix.placement.decode_replay; the rest:
    two fixed points), and, measured in this run, the same estimate with the replays' Python loops
    in place of the compiled ones."""
    import os

    from helix.artifact.traces import load_lengths
    from helix.placement import admission, decode_replay
    from helix.planning.validation import _vectors, candidate_layouts, validation_model
    from helix.profiles.paths import TRACE_FILES

    path = REPO / TRACE_FILES[0]
    if not path.is_file():
        print(f"(no {TRACE_FILES[0]}: the replay's cost needs the trace; `snakemake --cores 2 {path}`)\n")
        return
    inp, out = load_lengths(path)
    lengths = (inp.tolist(), out.tolist())
    compiled = admission.compiled_core() is not None
    print(
        "The validation's estimate per validation layout (ms per layout: mean and best of "
        f"{reps}, and the mean CPU time of this thread); the replay's loop: "
        f"{'compiled' if compiled else 'Python (no compiled copy built)'}; load average at the start "
        f"{os.getloadavg()[0]:.2f}\n"
    )
    print(
        "| cluster | model | layout | validated estimate (ms) | best (ms) | CPU (ms) "
        "| scheduler routing (ms) | replay (ms) | decode replay (ms) | rest (ms) "
        "| with the Python replay (ms) | ratio | tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = worst_best = 0.0
    ratios_py, worst_replay = [], 0.0
    per_cluster: dict[str, list[tuple[float, float, float]]] = {}  # (mean, best, CPU ms) per layout
    old_env = os.environ.get("HELIX_REPLAY_CORE")
    parts = {"routing": 0.0, "replay": 0.0, "decode": 0.0}

    def timed(fn, key):
        def call(*a):
            t0 = time.perf_counter()
            r = fn(*a)
            parts[key] += (time.perf_counter() - t0) * 1e3
            return r

        return call

    orig_replay = admission.replay
    orig_decode = decode_replay.replay_decode
    for (c, m), case in validation_problems(cfg).items():
        if case is None:
            print(
                f"| {c} | {m} | (results/ lacks its cluster or layouts: "
                "`snakemake --cores 2 estimator_validation`) |"
            )
            continue
        problem, own = case
        sm = validation_model(problem, lengths)
        for name, _, lay in candidate_layouts(problem, cfg.artifact_dir(), own, int(cfg.seed)):
            st, sz = _vectors(problem.cluster, lay)
            if any(k > len(problem.table(i)) for i, k in enumerate(sz)):
                continue  # more than K layers on a machine: the validation skips it too
            e = sm.estimate(st, sz)  # warm caches
            if e.throughput <= 0:
                continue
            admission.replay = timed(orig_replay, "replay")
            decode_replay.replay_decode = timed(orig_decode, "decode")
            sm._scheduler_flows = timed(type(sm)._scheduler_flows.__get__(sm), "routing")
            parts.update(routing=0.0, replay=0.0, decode=0.0)
            try:
                ms, best, cpu, e = _timed(lambda: sm.estimate(st, sz), reps)
            finally:
                admission.replay = orig_replay
                decode_replay.replay_decode = orig_decode
                del sm._scheduler_flows
            route_ms, rp_ms = parts["routing"] / reps, parts["replay"] / reps
            dec_ms = parts["decode"] / reps
            worst_replay = max(worst_replay, rp_ms)
            py_cell = ratio_cell = "-"
            if compiled:
                os.environ["HELIX_REPLAY_CORE"] = "python"
                try:
                    py_ms, _, _, e_py = _timed(lambda: sm.estimate(st, sz), max(reps // 5, 1))
                finally:
                    if old_env is None:
                        os.environ.pop("HELIX_REPLAY_CORE", None)
                    else:
                        os.environ["HELIX_REPLAY_CORE"] = old_env
                assert e_py.throughput == e.throughput, "the compiled replay differs from the Python one"
                py_cell, ratio_cell = f"{py_ms:.1f}", f"{ms / py_ms:.2f}"
                ratios_py.append(ms / py_ms)
            worst, worst_best = max(worst, ms), max(worst_best, best)
            per_cluster.setdefault(c, []).append((ms, best, cpu))
            print(
                f"| {c} | {m} | {name} | {ms:.1f} | {best:.1f} | {cpu:.1f} | {route_ms:.1f} | {rp_ms:.1f} "
                f"| {dec_ms:.1f} | {ms - route_ms - rp_ms - dec_ms:.1f} | {py_cell} | {ratio_cell} "
                f"| {e.throughput:.1f} |",
                flush=True,
            )
    print(
        "\n| cluster | layouts | mean (ms) | slowest mean (ms) | slowest best (ms) | mean CPU (ms) "
        f"| slowest CPU (ms) | within {BUDGET_MS:g} ms (mean / best / CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c, v in per_cluster.items():
        print(
            f"| {c} | {len(v)} | {sum(m for m, _, _ in v) / len(v):.1f} | {max(m for m, _, _ in v):.1f} "
            f"| {max(b for _, b, _ in v):.1f} | {sum(u for _, _, u in v) / len(v):.1f} "
            f"| {max(u for _, _, u in v):.1f} | {sum(m <= BUDGET_MS for m, _, _ in v)} / "
            f"{sum(b <= BUDGET_MS for _, b, _ in v)} / {sum(u <= BUDGET_MS for _, _, u in v)} |"
        )
    n_all = sum(len(v) for v in per_cluster.values())
    ok = sum(m <= BUDGET_MS for v in per_cluster.values() for m, _, _ in v)
    print(f"(load average at the end {os.getloadavg()[0]:.2f})")
    print(
        f"\nthe validated estimate against the issue's budget of {BUDGET_MS:g} ms per layout: "
        f"{ok} of {n_all} layouts within it by the mean of {reps} calls; slowest {worst:.1f} ms (mean), "
        f"{worst_best:.1f} ms (best of {reps}); slowest admission replay: {worst_replay:.1f} ms"
        + (
            f"; the estimate with the compiled replay / with the Python one: "
            f"{min(ratios_py):.2f}-{max(ratios_py):.2f}"
            if ratios_py
            else ""
        )
        + "\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
