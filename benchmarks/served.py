"""Served-throughput benchmark: the estimate's cost, and max-flow vs served throughput per planner.

1. Cost of one served-throughput estimate (helix/placement/served.py) against one exact max-flow
   evaluation of the same layout, measured in this run (ms per layout and the ratio), on the
   paper's layouts and the baselines of single24, geo24 and hetero42 (LLaMA-2 70B); and of the
   estimate routed by the helix scheduler's own max flow (``routing="scheduler"``, what the
   estimator validation uses) against the default one; then the validation's estimate (the
   scheduler's routing with the admission replayed, ``admission="replay"``, on the trace's lengths
   in resources/traces) against the scheduler-routed one.
2. The table of the figure results/figures/served_throughput.pdf, from the configured runs in
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
    replay_rows = []
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
            replay_rows.append((name, lname, cluster, tables, st, sz, ss))
    print(
        f"\nslowest estimate: {worst:.2f} ms per layout (budget 20 ms); with the scheduler's routing "
        f"(the validation's): {worst_sched:.2f} ms\n"
    )

    replay_cost(replay_rows, model, store, max(args.repeat // 10, 3))

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


def replay_cost(rows, model, store, reps: int) -> None:
    """The validation's estimate (admission replayed) against the scheduler-routed one, per layout."""
    from helix.artifact.traces import load_lengths
    from helix.placement.served import ServedModel, WorkloadStats
    from helix.profiles.paths import TRACE_FILES

    path = REPO / TRACE_FILES[0]
    if not path.is_file():
        print(f"(no {TRACE_FILES[0]}: the replay's cost needs the trace; `snakemake --cores 2 {path}`)\n")
        return
    wl = WorkloadStats.from_lengths(*load_lengths(path))
    print("| cluster | layout | replayed estimate (ms) | ratio to the scheduler-routed estimate | tok/s |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, lname, cluster, tables, st, sz, ss in rows:
        kw = dict(routing="scheduler", admission="replay", flow_cap=False, workload=wl)
        rp = ServedModel(cluster, model, tables, store, "llama70b", **kw)
        rp.estimate(st, sz)
        t0 = time.perf_counter()
        for _ in range(reps):
            e = rp.estimate(st, sz)
        ms = (time.perf_counter() - t0) / reps * 1e3
        worst = max(worst, ms)
        print(f"| {name} | {lname} | {ms:.1f} | {ms / ss:.1f} | {e.throughput:.1f} |", flush=True)
    print(f"\nslowest replayed estimate: {worst:.1f} ms per layout (the validation's, not the search's)\n")


if __name__ == "__main__":
    raise SystemExit(main())
