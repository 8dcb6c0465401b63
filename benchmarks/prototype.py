"""CPU prototype decode throughput next to a single-process run of the same closed loop (ratio).

The prototype: host + worker processes, tiny-llama (8 layers, hidden 256), helix scheduler, offline
closed loop with exactly N requests in flight (``feed: replace``). Layout ``replicas`` (default): 2
workers that each hold all 8 layers (data parallel, as when each machine holds the whole model: every
route is one stage, a worker queues its requests' next decodes itself and runs waiting prompts in its
decode steps; docs/prototype-performance.md says why this layout and not the pipeline), one per core of
the 2-core development machine with 1 torch thread each (``--threads 2 --omp-wait-policy passive`` gives
each worker a second thread that sleeps at once when idle: ahead under load, behind on a quiet machine,
where its helper thread takes the core the other worker needs); ``pipe2``: 2 workers, layers [0,4) and
[4,8), with the prototype's defaults: the requests in flight decode as one batch (the first stage
regroups decodes that arrive apart, ``regroup``), a stage runs and sends its decodes before its prompts,
so it runs prompts while the batch is at the other stage; ``--decode-batch N/2`` runs micro-batches
instead, ``--prompt-layers k`` prompts k layers at a time; ``branching``: the 4-worker test placement
config/test/proto-layout.yaml. The baseline: one process holding all layers in one ``torch`` engine, the
same closed loop (same lengths, same concurrency, same 0.1-s relaunch delay, all decodes in one batch),
no network, run in a process of its own with 1 torch thread and with the workers' total (at most the
CPUs), the latter both with the OpenMP runtime's default wait policy (spinning) and passive; the ratio
is against the fastest of the three in each round. Each round runs the prototype and the baseline(s)
back to back, alternating which goes first, so they see the same machine load; per round it prints
tokens/s, the ratio, the CPU each side's serving loop used, the CPU per decode token, the seconds each
side was runnable without a CPU (schedstat), whether the round was uncontended (no side waited for a CPU
more than 10 % of it) and the 1-minute load average; the run's figure is the median of the rounds'
ratios, also given over the uncontended rounds alone. The prototype runs with its defaults, as the
server does (decode loop-back on; ``--no-loopback`` for the host-in-every-iteration path). ``--profile
DIR`` also writes each worker's cProfile (HELIX_PROFILE_DIR) and prints where the workers' time went;
``--timeline DIR`` has each worker write a wall-clock timeline of its serving loop (HELIX_TIMELINE_DIR)
and copies the last round's host events next to them, which ``benchmarks/prototype_timeline.py DIR``
splits into the parts of a decode round. Each round also prints both sides' mean prompt and decode
latency: in this closed loop tokens/s = in flight x decodes per request / (0.1-s relaunch delay + prompt
latency + decodes per request x decode latency), which is how the two sides compare. The workers are
forked from one process that built their weights, so they read one physical copy (``share_weights``;
``--no-share-weights``: each builds its own; no difference in the ratio measured). On a machine
shared with other sessions, ``nice`` alone does not shield the benchmark from their jobs (the kernel
shares the CPUs between autogroups first): run it in an autogroup of its own, ``setsid bash -c 'echo
-20 > /proc/$$/autogroup && exec nice -n -20 python benchmarks/prototype.py'`` (as root). Findings are
in docs/prototype-performance.md.

    python benchmarks/prototype.py [--duration-s 10] [--n-init 8] [--rounds 5] \
        [--layout replicas|pipe2|branching] [--profile DIR] [--timeline DIR] [--fit-prompts]
    # GPU check (all workers share the GPU): LLaMA-2-70B-shaped layers, 8 of them, bf16
    python benchmarks/prototype.py --device cuda --dtype bfloat16 \
        --shape-from <llama70b config.json> --length-scale 0.25
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LAYOUTS = {"pipe2": {"n0": [0, 4], "n1": [4, 8]}, "replicas": {"n0": [0, 8], "n1": [0, 8]}, "branching": None}
# a round is contended when a side was runnable without a CPU for more than this share of it
CONTENDED = 0.1
LENGTHS = {"scale": 0.0625, "min_input": 4, "max_input": 64, "min_output": 2, "max_output": 16}


def shaped_config(src: Path, out_dir: Path) -> Path:
    """An 8-layer model with the shapes of ``src`` (e.g. LLaMA-2-70B), for the 8-layer test layout."""
    data = json.loads(Path(src).read_text())
    data.update(
        num_hidden_layers=8, max_position_embeddings=max(4096, data.get("max_position_embeddings", 0))
    )
    name = Path(src).parent.name if Path(src).name == "config.json" else Path(src).stem
    path = out_dir / f"shape-{name or 'model'}.json"
    path.write_text(json.dumps(data))
    return path


def single_process(
    spec, lengths, duration_s: float, warmup_s: float, model_config: Path, threads: int
) -> tuple[float, int]:
    """Decode tokens/s (and requests launched) of one process serving the same closed loop."""
    import torch

    from helix.prototype.engines import StageWork, get_engine
    from helix.prototype.host import prompt_ids, scaled_lengths
    from helix.prototype.model import LlamaConfig
    from helix.workload import LengthSampler

    torch.set_num_threads(threads)
    cfg = LlamaConfig.from_json(model_config, spec.model)
    eng = get_engine("torch")(cfg, (0, cfg.num_layers), device=spec.device, dtype=spec.dtype)
    a, b = scaled_lengths(*lengths, spec)
    sampler = LengthSampler(a.tolist(), b.tolist(), random.Random(spec.seed))
    live = {}
    rid = 0

    def launch():
        nonlocal rid
        i, o = sampler.sample()
        live[rid] = {"in": i, "out": o, "toks": [], "t": time.monotonic()}
        eng.submit(
            StageWork(
                rid,
                "prompt",
                0,
                cfg.num_layers,
                torch.tensor(prompt_ids(0, rid, i, cfg.vocab_size), dtype=torch.int32),
                i + o,
                0,
            )
        )
        rid += 1

    t0, cpu0 = time.monotonic(), time.process_time()  # the serving loop's CPU, engine start-up excluded
    due = [t0 + 0.1 * (k + 1) for k in range(spec.n_init)]  # the host's initial releases
    decodes = []
    lat: dict = {"prompt": [], "decode": []}
    while time.monotonic() - t0 < duration_s:
        now = time.monotonic()
        while due and due[0] <= now:
            due.pop(0)
            launch()
        if not eng.queue:
            time.sleep(max(0.0, min(due[0] - now, 0.01)) if due else 0.001)
            continue
        for out in eng.step():
            r = live[out.work.rid]
            now = time.monotonic()
            if now - t0 >= warmup_s:  # latencies of the iterations (for the closed loop's arithmetic)
                lat[out.work.phase].append(now - r["t"])
            r["t"] = now
            if out.work.phase == "decode":
                decodes.append(time.monotonic() - t0)
            r["toks"].append(int(out.payload[0]))
            if len(r["toks"]) >= r["out"]:
                del live[out.work.rid]
                due.append(time.monotonic() + 0.1)  # the host relaunches 0.1 s after a finish
            else:
                ctx = r["in"] + len(r["toks"]) - 1
                eng.submit(
                    StageWork(out.work.rid, "decode", 0, cfg.num_layers, out.payload, r["in"] + r["out"], ctx)
                )
    loop_cpu_s = time.process_time() - cpu0
    kept = [t for t in decodes if t >= warmup_s]
    perf = dict(eng.perf, loop_cpu_s=loop_cpu_s)
    for k, v in lat.items():
        perf[f"{k}_latency_ms"] = round(1000 * statistics.mean(v), 2) if v else None
    return (len(kept) / (kept[-1] - kept[0] + 1e-6) if len(kept) > 1 else 0.0), rid, perf


def _single_child(conn, args: tuple) -> None:
    """A spawned process (a fresh torch: the OpenMP wait policy is read when it loads) serving the
    single-process closed loop; sends back its result and its own schedstat wait."""
    s0 = schedstat()
    tps, launched, perf = single_process(*args)
    conn.send((tps, launched, perf, schedstat()[1] - s0[1]))
    conn.close()


def single_process_run(
    spec, lengths, duration_s: float, warmup_s: float, model_config: Path, threads: int, policy: str | None
) -> tuple[float, int, dict, float]:
    """``single_process`` in a process of its own, started with OMP_WAIT_POLICY=``policy`` (None: the
    runtime's default, which spins before it sleeps) and ``threads`` OpenMP threads. Returns decode
    tokens/s, requests launched, its counters, and the seconds it was runnable without a CPU."""
    import multiprocessing as mp

    saved = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if policy:
        os.environ["OMP_WAIT_POLICY"] = policy.upper()
    else:
        os.environ.pop("OMP_WAIT_POLICY", None)
    try:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_single_child, args=(child, (spec, lengths, duration_s, warmup_s, model_config, threads))
        )
        proc.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    child.close()
    try:
        got = parent.recv()
    except EOFError:
        got = None
    proc.join()
    if got is None:
        raise RuntimeError(
            f"the single process ({threads} threads, wait policy {policy}) exited with {proc.exitcode}"
        )
    return got


def engine_split(perf: dict, loop_cpu_s: float | None = None) -> dict:
    """An engine's counters as CPU seconds per phase and rows per decode step (and, for a worker, the
    rest of its serving thread: receiving, checking, encoding and sending messages, bookkeeping)."""
    out = {
        "prompt_cpu_s": round(perf.get("prompt_cpu_s", 0.0), 2),
        "decode_cpu_s": round(perf.get("decode_cpu_s", 0.0), 2),
        "rows_per_decode_step": round(perf["decode_rows"] / perf["decode_steps"], 2)
        if perf.get("decode_steps")
        else None,
        "decode_ms_per_step": round(1000 * perf["decode_cpu_s"] / perf["decode_steps"], 2)
        if perf.get("decode_steps")
        else None,
    }
    for k in ("prompt_latency_ms", "decode_latency_ms", "torch_threads", "omp_passive", "shared_weights"):
        if k in perf:
            out[k] = perf[k]
    if loop_cpu_s is not None:
        out["messaging_and_rest_cpu_s"] = round(loop_cpu_s - out["prompt_cpu_s"] - out["decode_cpu_s"], 2)
    return out


def schedstat(pid: int | str = "self", main_only: bool = False) -> tuple[float, float, int]:
    """(seconds on a CPU, seconds runnable but waiting for one, timeslices) summed over the threads of
    ``pid`` (Linux /proc/<pid>/task/*/schedstat; zeros elsewhere), or of its main thread only. Waiting
    for a CPU is what a loaded shared machine costs a process; it is not in any profile."""
    run = wait = n = 0
    tasks = Path(f"/proc/{pid}/task")
    main = str(os.getpid() if pid == "self" else pid)
    for f in [tasks / main / "schedstat"] if main_only else tasks.glob("*/schedstat"):
        try:
            a, b, c = f.read_text().split()
        except (OSError, ValueError):
            continue
        run, wait, n = run + int(a), wait + int(b), n + int(c)
    return run / 1e9, wait / 1e9, n


class SchedSampler:
    """Samples the workers' schedstat every 0.2 s while they serve (their last sample before they exit)."""

    def __init__(self):
        import threading

        self.pids: dict = {}
        self.first: dict = {}
        self.last: dict = {}
        self.first_main: dict = {}
        self.last_main: dict = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def on_serving(self, pids: dict) -> None:
        self.pids = dict(pids)
        self.first = {k: schedstat(p) for k, p in self.pids.items()}
        self.first_main = {k: schedstat(p, main_only=True) for k, p in self.pids.items()}
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(0.2):
            for k, p in self.pids.items():
                got = schedstat(p)
                if got[2]:
                    self.last[k] = got
                    self.last_main[k] = schedstat(p, main_only=True)

    def totals(self) -> dict:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        out = {"cpu_s": 0.0, "wait_for_cpu_s": 0.0, "main_thread_wait_s": 0.0, "timeslices": 0}
        for k, (r, w, n) in self.last.items():
            r0, w0, n0 = self.first[k]
            out["cpu_s"] += r - r0
            out["wait_for_cpu_s"] += w - w0
            out["timeslices"] += n - n0
            out["main_thread_wait_s"] += self.last_main[k][1] - self.first_main[k][1]
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def pin(pids: dict) -> None:
    """Worker k (node ids in order) and all its threads on CPU k mod the CPUs this process may use:
    one stage per core, as the layout intends (``--pin-workers``)."""
    cpus = sorted(os.sched_getaffinity(0))
    for k, (_, pid) in enumerate(sorted(pids.items())):
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), {cpus[k % len(cpus)]})
            except OSError:
                pass


def model_shape(path: Path) -> dict:
    d = json.loads(Path(path).read_text())
    keys = (
        "num_hidden_layers",
        "hidden_size",
        "intermediate_size",
        "num_attention_heads",
        "num_key_value_heads",
        "vocab_size",
    )
    return {k: d.get(k) for k in keys}


def profile_summary(prof_dir: Path, top: int = 6) -> dict:
    """Per worker: seconds in the serving loop split into prompts, decodes, messaging, waiting."""
    import pstats

    out = {}
    for f in sorted(prof_dir.glob("worker*.pstats")):
        st = pstats.Stats(str(f)).stats
        cum = {}
        for (file, _, fn), (_, _, tt, ct, _) in st.items():
            key = f"{Path(file).name}:{fn}"
            cum[key] = cum.get(key, 0.0) + ct
        pick = {
            "loop": "worker.py:run",
            "prompts": "torch_engine.py:_prompt",
            "prompt layers": "torch_engine.py:_prompt_layers",
            "decodes": "torch_engine.py:_decodes",
            "check+queue": "worker.py:on_data",
            "encode": "transport.py:encode",
            "send": "transport.py:send_many",
            "waiting (poll)": "poll.py:poll",
            "start-up": "worker.py:__init__",
        }
        out[f.stem] = {k: round(cum.get(v, 0.0), 2) for k, v in pick.items()}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration-s", type=float, default=10.0)
    p.add_argument("--warmup-s", type=float, default=3.0)
    p.add_argument("--n-init", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--shape-from", default=None, help="HF config.json whose shapes the 8-layer model takes")
    p.add_argument(
        "--hidden",
        type=int,
        default=None,
        help="tiny-llama with this hidden size (intermediate 2.75x, "
        "head dim 64): how the ratio moves as compute outweighs per-op overhead",
    )
    p.add_argument("--length-scale", type=float, default=LENGTHS["scale"])
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternating prototype / single-process rounds (the median of their ratios is the figure)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per worker process (2 with --omp-wait-policy passive: faster on a loaded "
        "machine, slower on a quiet one, docs/prototype-performance.md)",
    )
    p.add_argument(
        "--omp-wait-policy",
        default="default",
        choices=["passive", "active", "default"],
        help="the workers' OMP_WAIT_POLICY (spec.omp_wait_policy; passive: idle torch threads sleep at once "
        "instead of spinning on a core the other worker needs; default: the runtime's own)",
    )
    p.add_argument(
        "--single-threads",
        type=int,
        default=None,
        help="torch threads of the single process's multi-threaded runs (default: the workers' total, at "
        "most the CPUs); it also runs with 1 thread, and the ratio is against the fastest run",
    )
    p.add_argument(
        "--layout",
        default="replicas",
        choices=sorted(LAYOUTS),
        help="replicas (default): 2 workers holding all 8 layers each; pipe2: 2 workers, layers [0,4) "
        "and [4,8) (as many stages as this machine has cores); branching: config/test/proto-layout.yaml "
        "(4 workers)",
    )
    p.add_argument(
        "--decode-batch",
        type=int,
        default=None,
        help="most decodes a worker runs per step (default 0: all waiting, "
        "one batch; concurrency / pipeline stages gives micro-batches that the stages work on at once)",
    )
    p.add_argument(
        "--no-loopback",
        action="store_true",
        help="every decode goes out from the host (spec.loopback "
        "off) instead of the last stage sending it straight to the first",
    )
    p.add_argument(
        "--no-regroup",
        action="store_true",
        help="workers run waiting decodes at once (spec.regroup off) instead of regrouping them",
    )
    p.add_argument(
        "--fit-prompts",
        action="store_true",
        help="workers fit prompt layers around the returning decode batch (spec.fit_prompts) instead "
        "of running whole prompts whenever no decode waits",
    )
    p.add_argument(
        "--prompt-layers",
        type=int,
        default=None,
        help="layers of prompts a worker runs between two looks at its inbox (default: the spec's, 0 = "
        "whole prompts)",
    )
    p.add_argument(
        "--no-share-weights",
        action="store_true",
        help="each worker process builds its own copy of the weights (spec.share_weights off) instead of "
        "being forked from one process that built them once, so that both workers read one physical copy",
    )
    p.add_argument(
        "--pin-workers",
        action="store_true",
        help="pin worker k (all its threads) to CPU k, one stage per core (the single process is not pinned)",
    )
    p.add_argument(
        "--timeline",
        default=None,
        help="directory for each worker's wall-clock timeline of the last round "
        "(benchmarks/prototype_timeline.py reads it)",
    )
    p.add_argument("--profile", default=None, help="directory for per-worker cProfile files and a breakdown")
    args = p.parse_args()
    os.environ.setdefault("HELIX_ARTIFACT_DIR", str(REPO.parent / "shared" / "reference" / "helix-artifact"))

    from helix.layout import Layout
    from helix.prototype.run import run_prototype
    from helix.prototype.settings import ProtoRunSpec
    from helix.prototype.traces import load_traces

    lengths_cfg = dict(LENGTHS, scale=args.length_scale)
    if args.shape_from:
        lengths_cfg.update(max_input=2047, max_output=1000)
    with tempfile.TemporaryDirectory() as tmp:
        model_config = (
            shaped_config(Path(args.shape_from), Path(tmp))
            if args.shape_from
            else REPO / "config/test/tiny-llama.json"
        )
        if args.hidden:
            data = json.loads(model_config.read_text())
            data.update(
                hidden_size=args.hidden,
                intermediate_size=int(args.hidden * 2.75),
                num_attention_heads=args.hidden // 64,
                num_key_value_heads=max(1, args.hidden // 128),
            )
            model_config = Path(tmp) / f"tiny-llama-h{args.hidden}.json"
            model_config.write_text(json.dumps(data))
        layout_path = REPO / "config/test/proto-layout.yaml"
        if LAYOUTS[args.layout] is not None:
            layout_path = Path(tmp) / f"{args.layout}.yaml"
            layout_path.write_text(json.dumps({"num_layers": 8, "layers": LAYOUTS[args.layout]}))
        layout = Layout.load(layout_path)
        n_workers = len(layout.used())
        decode_batch = args.decode_batch or 0
        # the single process with 1 thread and with the workers' total thread count (at most the CPUs),
        # the latter both with the runtime's default wait policy (spinning: fastest on an idle machine)
        # and passive (sleeping: better when other processes want the CPUs); the ratio is taken against
        # the fastest of them in each round
        many = args.single_threads or min(os.cpu_count() or 1, n_workers * args.threads)
        single_runs = [(1, None)] + ([(many, None), (many, "passive")] if many > 1 else [])
        spec = ProtoRunSpec(
            cluster="tiny4",
            model=model_config.stem,
            method="manual",
            scheduler="helix",
            mode="offline",
            duration_s=args.duration_s,
            warmup_s=args.warmup_s,
            n_init=args.n_init,
            lengths=lengths_cfg,
            layer_tps=2000,
            kv_slots=10**6,
            startup_timeout_s=300,
            device=args.device,
            dtype=args.dtype,
            feed="replace",
            threads=args.threads,
            omp_wait_policy=None if args.omp_wait_policy == "default" else args.omp_wait_policy,
            loopback=not args.no_loopback,
            decode_batch=decode_batch or None,
            regroup=not args.no_regroup,
            share_weights=not args.no_share_weights,
            **({"fit_prompts": True} if args.fit_prompts else {}),
            **({} if args.prompt_layers is None else {"prompt_layers": args.prompt_layers}),
        )
        lengths, arrivals = load_traces()
        shape = model_shape(model_config)
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            os.environ["HELIX_PROFILE_DIR"] = str(Path(args.profile).resolve())
        if args.timeline:
            Path(args.timeline).mkdir(parents=True, exist_ok=True)
            os.environ["HELIX_TIMELINE_DIR"] = str(Path(args.timeline).resolve())
        rounds = []
        for k in range(args.rounds):

            def proto_side(k=k):
                run_dir = Path(tmp) / f"run{k}"
                cpu0, host0 = time.process_time(), schedstat()
                sampler = SchedSampler()
                m = run_prototype(
                    layout,
                    model_config,
                    spec,
                    run_dir,
                    lengths,
                    arrivals,
                    log=lambda s: None,
                    on_serving=lambda pids: (
                        pin(pids) if args.pin_workers else None,
                        sampler.on_serving(pids),
                    ),
                )
                workers = sampler.totals()
                if args.timeline:  # the host's events of the same round, next to the timelines
                    (Path(args.timeline) / "events.csv").write_bytes((run_dir / "events.csv").read_bytes())
                host_wait = schedstat()[1] - host0[1]
                run = json.loads((run_dir / "run.json").read_text())
                # CPU seconds of the serving loops (workers report theirs; start-up excluded)
                # per second of run
                cores = sum(r.get("cpu_s", 0.0) for r in run["worker_reports"].values()) / args.duration_s
                # the host runs in this process: its serving loop's CPU (start-up and the writing of the
                # run's outputs excluded, as for the workers); the whole process's as a fallback
                host_cpu = run.get("host_loop_cpu_s", time.process_time() - cpu0)
                host_cores = host_cpu / args.duration_s
                split = {
                    f"worker {k}": engine_split(r["perf"], r["perf"].get("loop_cpu_s"))
                    for k, r in sorted(run["worker_reports"].items())
                    if r.get("perf")
                }
                # the closed loop's arithmetic: tokens/s = in flight x decodes per request / (relaunch
                # delay + prompt latency + decodes per request x decode latency)
                split["latency_ms"] = {
                    "prompt": round(1000 * m["prompt_latency_s"]["mean"], 2),
                    "decode": round(1000 * m["decode_latency_s"]["mean"], 2),
                }
                return (
                    float(m["decode_throughput_tps"]),
                    run["requests"],
                    cores,
                    host_cores,
                    workers,
                    host_wait,
                    split,
                )

            def single_side():
                out = {}
                for t, policy in single_runs:
                    tps_t, launched_t, perf_t, wait_t = single_process_run(
                        spec, lengths, args.duration_s, args.warmup_s, model_config, t, policy
                    )
                    out[f"{t} threads" + (f" {policy}" if policy else "")] = (
                        float(tps_t),
                        launched_t,
                        round(perf_t["loop_cpu_s"] / args.duration_s, 2),
                        round(wait_t, 2),
                        engine_split(perf_t),
                    )
                return out

            # alternate which side goes first, so a load that drifts during a round favours neither
            if k % 2 == 0:
                tps, launched, proto_cores, host_cores, workers, host_wait, split = proto_side()
                single_out = single_side()
            else:
                single_out = single_side()
                tps, launched, proto_cores, host_cores, workers, host_wait, split = proto_side()
            singles = {t: v[0] for t, v in single_out.items()}
            single_launched = {t: v[1] for t, v in single_out.items()}
            single_cores = {t: v[2] for t, v in single_out.items()}
            single_wait = {t: v[3] for t, v in single_out.items()}
            best_t = max(singles, key=singles.get)
            best = singles[best_t]
            rounds.append(
                {
                    "prototype_decode_tps": round(tps, 1),
                    "single_process_decode_tps": {t: round(v, 1) for t, v in singles.items()},
                    "ratio": round(tps / best, 3) if best else None,
                    "requests_launched": {
                        "prototype": launched,
                        **{f"single {t}": v for t, v in single_launched.items()},
                    },
                    "worker_cores_used": round(proto_cores, 2),
                    "host_cores_used": round(host_cores, 2),
                    "single_process_cores_used": dict(single_cores),
                    # CPU (workers + host / the faster single process) per decode token:
                    # efficiency, whatever the load
                    "cpu_ms_per_decode_token": {
                        "prototype": round(1000 * (proto_cores + host_cores) / tps, 2) if tps else None,
                        "single": round(1000 * single_cores[best_t] / best, 2) if best else None,
                    },
                    # seconds runnable but without a CPU (other processes on the box):
                    # workers (all threads) + host / single
                    "waiting_for_cpu_s": {
                        "workers": workers["wait_for_cpu_s"],
                        "workers_main_threads": workers["main_thread_wait_s"],
                        "host": round(host_wait, 2),
                        "single": single_wait[best_t],
                    },
                    # CPU seconds per phase of the round (engine counters; a worker's rest is
                    # messaging and bookkeeping) and rows per decode step
                    "engine": {**split, f"single {best_t}": single_out[best_t][4]},
                    "first": "prototype" if k % 2 == 0 else "single process",
                    "load_average_1min": round(os.getloadavg()[0], 2),
                    # no side runnable without a CPU for more than 10 % of the round (per process): the
                    # ratio of such a round measures the two designs, not how the kernel shared out
                    # CPUs that other processes also wanted
                    "uncontended": single_wait[best_t] <= CONTENDED * args.duration_s
                    and host_wait <= CONTENDED * args.duration_s
                    and workers["main_thread_wait_s"] <= CONTENDED * args.duration_s * n_workers,
                }
            )
            print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
    ratios = [r["ratio"] for r in rounds if r["ratio"] is not None]
    quiet = [r["ratio"] for r in rounds if r["ratio"] is not None and r["uncontended"]]
    proto = sum(r["prototype_decode_tps"] for r in rounds) / len(rounds)
    single = sum(max(r["single_process_decode_tps"].values()) for r in rounds) / len(rounds)
    report = {
        "placement": f"{args.layout}: {LAYOUTS[args.layout] or 'config/test/proto-layout.yaml'} "
        f"({n_workers} workers)",
        "model": shape,
        "device": args.device,
        "dtype": args.dtype,
        "concurrency": args.n_init,
        "threads_per_worker": args.threads,
        "omp_wait_policy": spec.omp_wait_policy or "default",
        "single_process_runs": [f"{t} threads" + (f" {p}" if p else "") for t, p in single_runs],
        "decode_batch": decode_batch or "all",
        "regroup": spec.regroup,
        "fit_prompts": getattr(spec, "fit_prompts", None),
        "prompt_layers": spec.prompt_layers,
        "loopback": not args.no_loopback,
        "share_weights": spec.share_weights,
        "rounds": rounds,
        "prototype_decode_tps": round(proto, 1),
        "single_process_decode_tps": round(single, 1),  # the faster setting per round
        "ratio": round(proto / single, 3) if single else None,  # of the mean tokens/s
        "ratio_median_of_rounds": statistics.median(ratios) if ratios else None,
        "rounds_at_or_above_1": sum(r["ratio"] is not None and r["ratio"] >= 1.0 for r in rounds),
        # the same figure over the rounds in which no side waited for a CPU (see "uncontended"); the
        # run's figure stays the median over all rounds
        "uncontended_rounds": len(quiet),
        "ratio_median_of_uncontended_rounds": statistics.median(quiet) if quiet else None,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.profile:
        report["worker_seconds"] = profile_summary(Path(args.profile))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
