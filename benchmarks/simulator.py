"""Benchmark: the simulator on the paper's layouts, against a baseline engine in the same run.

Cases (the paper's own layouts and run parameters, config/config.yaml):

* ``70b-single24-helix-offline`` - LLaMA-2 70B on single24, helix layout and scheduler, offline
  (660 s simulated). The reference simulator needs 489 s and 15.8 GB for it (docs/design/simulator.md s8.4);
  the target is <= 1.5 s wall on an idle machine, <= 0.2 GB peak RSS, metrics identical.
* ``30b-single24-swarm-online`` - LLaMA-1 30B on single24, swarm, online (1800 s of the Azure
  trace at 450 tok/s): the hop-by-hop path (transmission polls, stride scheduler).
* ``70b-geo24-helix-offline`` - LLaMA-2 70B on geo24 (three regions, slow cross-region links).

Every case runs in a fresh interpreter per engine (so peak RSS is the case's own), alternating the
current engine (the compiled loop ``helix.sim._loop_c`` when it is built and current, see setup.py),
the Python loop it is compiled from (``HELIX_SIM_CORE=python``, the tested reference) and the
baseline (by default ``helix/sim/engine.py`` at commit cc61853, the engine before issue 14)
``--repeat`` times; the run with the least CPU time of each is kept. On a shared machine the
absolute times vary with load; the ratios measured in the same run are the figures to quote.

Where the time goes: docs/design/simulator.md s10 (profiles of the 70B single24 case, before and
after). Identical outputs are checked by ``tests/test_sim_engine_equivalence.py`` (current engine
against cc61853) and ``tests/test_sim_compiled.py`` (compiled loop against the Python loop).

Usage: python benchmarks/simulator.py [--case NAME ...] [--repeat N] [--baseline REV|PATH|none] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAPER_SIM_WALL_S, PAPER_SIM_RSS_GB = 489.0, 15.8  # reference simulator, 70B single24 helix offline
TARGET_WALL_S, TARGET_RSS_GB = 1.5, 0.2
BASELINE_REV = "cc61853"
# case -> (cluster, model, method, scheduler, mode, the paper's printed decode throughput)
CASES = {
    "70b-single24-helix-offline": ("single24", "llama70b", "paper-helix", "helix", "offline", 252.1),
    "30b-single24-swarm-online": ("single24", "llama30b", "paper-swarm", "swarm", "online", 104.9),
    "70b-geo24-helix-offline": ("geo24", "llama70b", "paper-helix", "helix", "offline", None),
}


def _one(case: str, engine_path: str | None) -> dict:
    """Run one case in this process (the child side) and return its figures."""
    sys.path.insert(0, str(REPO))
    t_setup = time.perf_counter()
    import helix.sim.run as run
    from helix.artifact.simulator_cluster import read_simulator_cluster
    from helix.artifact.traces import read_artifact_arrivals, read_artifact_lengths
    from helix.config import load_config
    from helix.profiles.store import ProfileStore
    from helix.sim.experiments import run_key, sim_table
    from helix.sim.paper import paper_files
    from helix.sim.pipeline import load_model, paper_ranges
    from helix.sim.settings import WorkloadSpec

    if engine_path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("baseline_engine", engine_path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["baseline_engine"] = mod
        spec.loader.exec_module(mod)
        run.Simulator = mod.Simulator
    cfg = load_config(REPO / "config" / "config.yaml")
    art = cfg.artifact_dir()
    cluster, model_key, method, scheduler, mode, _ = CASES[case]
    entry = sim_table(cfg)[run_key(cluster, model_key, method, scheduler, mode)]
    m = cfg.models[model_key]
    model = load_model(model_key, cfg.resolve_model_path(model_key), m.param_bytes_per_layer)
    sol, graph = paper_files(art, cluster, model_key, method)
    sc, ranges = read_simulator_cluster(graph), paper_ranges(sol, model.num_layers)
    lengths = read_artifact_lengths(art)
    lens = (lengths["input"].tolist(), lengths["output"].tolist())
    counts = read_artifact_arrivals(art)["count"].tolist()
    store = ProfileStore.from_artifact(art)
    wl = WorkloadSpec.model_validate(entry["workload"])
    setup_s = time.perf_counter() - t_setup
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    wall = time.perf_counter()
    cpu = time.process_time()
    out = run.simulate(model, sc, ranges, store, scheduler, wl, lens, counts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    metrics = {k: v for k, v in out.metrics.items()}
    core = getattr(out.sim, "core", None)
    return {
        "core": core.__name__ if core is not None else "baseline engine",
        "wall_s": wall,
        "cpu_s": cpu,
        "setup_s": setup_s,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,  # KiB on Linux
        "rss_before_run_gb": rss_before,
        "events": out.result.events,
        "metrics": metrics,
    }


def compiled_available() -> bool:
    """Is a compiled copy of the current loop built (and current)? Checked in a child, like the runs."""
    code = (
        "import sys; from helix.sim.engine import compiled_core; "
        "sys.exit(0 if compiled_core() is not None else 1)"
    )
    return (
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
        ).returncode
        == 0
    )


def _baseline_path(spec: str) -> str | None:
    if spec == "none":
        return None
    if Path(spec).is_file():
        return spec
    src = subprocess.run(
        ["git", "show", f"{spec}:helix/sim/engine.py"], cwd=REPO, capture_output=True, text=True
    )
    if src.returncode != 0:
        sys.exit(f"error: cannot read helix/sim/engine.py at {spec}: {src.stderr.strip()}")
    path = Path(tempfile.mkdtemp(prefix="helix-baseline-")) / "engine.py"
    path.write_text(src.stdout)
    return str(path)


def _child(case: str, engine_path: str | None, core: str = "auto") -> dict:
    cmd = [sys.executable, __file__, "--child", case] + (["--engine", engine_path] if engine_path else [])
    r = subprocess.run(
        cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "HELIX_SIM_CORE": core}
    )
    if r.returncode != 0:
        sys.exit(f"error: {case} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES), help="cases to run (default: all)")
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs per engine (the one with the least CPU time is kept)"
    )
    ap.add_argument(
        "--baseline",
        default=BASELINE_REV,
        help=f"git revision or engine.py file to compare with (default {BASELINE_REV}; 'none' to skip)",
    )
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, args.engine)))
        return 0

    base = _baseline_path(args.baseline)
    compiled = compiled_available()
    variants = [("current", None, "auto")]
    if compiled:
        variants.append(("python", None, "python"))
    if base is not None:
        variants.append(("baseline", base, "auto"))
    engine = (
        "the compiled loop helix.sim._loop_c"
        if compiled
        else "the Python loop helix.sim.loop (no current compiled copy: python setup.py build_ext --inplace)"
    )
    print(f"current engine: {engine}")
    results = {}
    for case in args.case or list(CASES):
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for name, path, core in variants:
                res = _child(case, path, core)
                if name not in best or res["cpu_s"] < best[name]["cpu_s"]:
                    best[name] = res
        results[case] = best
        cur = best["current"]
        paper_tps = CASES[case][5]
        tps = cur["metrics"]["decode_throughput_tps"]
        print(f"{case}")
        print(
            f"  current   wall {cur['wall_s']:7.2f} s  cpu {cur['cpu_s']:7.2f} s  "
            f"peak RSS {cur['peak_rss_gb']:.3f} GB ({cur['rss_before_run_gb']:.3f} before the run)  "
            f"events {cur['events']:>9,d}  decode {tps:.3f} tok/s"
            + (f" (paper {paper_tps})" if paper_tps else "")
            + f"  [{cur['core']}]"
        )
        for name, label in (("python", "the Python loop (helix.sim.loop)"), ("baseline", args.baseline)):
            if name not in best:
                continue
            b = best[name]
            same = {k: v for k, v in b["metrics"].items() if k != "events"} == {
                k: v for k, v in cur["metrics"].items() if k != "events"
            }
            print(
                f"  {name:<9} wall {b['wall_s']:7.2f} s  cpu {b['cpu_s']:7.2f} s  "
                f"peak RSS {b['peak_rss_gb']:.3f} GB  events {b['events']:>9,d}  ({label})"
            )
            print(
                f"    speed-up of current: cpu x{b['cpu_s'] / cur['cpu_s']:.2f}  "
                f"wall x{b['wall_s'] / cur['wall_s']:.2f}; metrics identical: {same}"
            )
            cur[f"speedup_cpu_vs_{name}"], cur[f"speedup_wall_vs_{name}"] = (
                b["cpu_s"] / cur["cpu_s"],
                b["wall_s"] / cur["wall_s"],
            )
            cur[f"identical_metrics_vs_{name}"] = same
        if case == "70b-single24-helix-offline":
            ok = cur["wall_s"] <= TARGET_WALL_S and cur["peak_rss_gb"] <= TARGET_RSS_GB
            print(
                f"  vs the paper's simulator ({PAPER_SIM_WALL_S:.0f} s, {PAPER_SIM_RSS_GB} GB): "
                f"x{PAPER_SIM_WALL_S / cur['wall_s']:.0f} faster, "
                f"x{PAPER_SIM_RSS_GB / cur['peak_rss_gb']:.0f} less memory;"
                f" target <= {TARGET_WALL_S} s and <= {TARGET_RSS_GB} GB on an idle machine: "
                f"{'met' if ok else 'not met'} here"
            )
    load = os.getloadavg()
    print(
        f"1/5/15-min load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
        "(ratios are measured in the same run)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"load_average": load, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
