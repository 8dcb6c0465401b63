"""`helix simulate`: run one simulation (configured, or any valid results path) and write its result files."""

from __future__ import annotations

from helix.commands._common import add_config, add_profiles, example

HELP = (
    "simulate one run: a configured one, or any cluster/model/method/scheduler/mode "
    "with the config's defaults"
)
EXAMPLE = example("""
helix simulate --cluster single24 --model llama70b --method paper-helix --scheduler helix --mode offline \
--out /tmp/run
helix simulate --cluster mix12 --model mistral7b --method helix --scheduler helix --mode online --rate 700
""")


def add_arguments(p) -> None:
    from helix.scheduling import scheduler_names

    add_config(p)
    p.add_argument("--cluster", required=True, help="config cluster name")
    p.add_argument("--model", required=True, help="config model name")
    p.add_argument(
        "--method",
        required=True,
        help="placement method: paper-<method> (the authors' layout, on the artifact's placement graph), "
        "paper-<method>@graph (the same through our layout path) or ours (reads results/placements/...)",
    )
    p.add_argument("--scheduler", required=True, choices=scheduler_names(), help="request scheduler")
    p.add_argument("--mode", required=True, choices=["offline", "online"], help="workload mode")
    p.add_argument(
        "--rate", type=float, default=None, help="online token rate, tokens/s (overrides the config)"
    )
    p.add_argument(
        "--n-init", type=int, default=None, help="offline initial concurrency (overrides the config)"
    )
    p.add_argument("--duration", type=float, default=None, help="online arrivals / offline measured span, s")
    p.add_argument("--seed", type=int, default=None, help="workload seed")
    p.add_argument("--force", action="store_true", help="run nodes above K layers with the K-layer limits")
    add_profiles(p)
    p.add_argument(
        "--out",
        default=None,
        help="output directory (default: results/sims/<cluster>/<model>/<method>/<scheduler>/<mode>)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")


# workload field -> the option that sets it (for one-line errors naming the option)
OPTION_NAMES = {
    "rate_tps": "--rate",
    "n_init": "--n-init",
    "duration_s": "--duration",
    "seed": "--seed",
    "force": "--force",
}


def run(args) -> int:
    import tempfile
    from pathlib import Path

    from pydantic import ValidationError

    from helix.commands._common import gpu_entries, load, profile_store
    from helix.commands._options import check_out_dir, options_error
    from helix.errors import HelixInputError
    from helix.placement.names import reads_artifact_graph
    from helix.profiles.workflow import ProfilePlan
    from helix.sim.experiments import check_method, run_key, sim_table
    from helix.sim.outputs import write_run
    from helix.sim.pipeline import run_entry
    from helix.sim.settings import WorkloadSpec

    key = run_key(args.cluster, args.model, args.method, args.scheduler, args.mode)
    outdir = check_out_dir(args.out or f"results/sims/{key}")  # before the simulation, not after it
    cfg = load(args)
    if args.model not in cfg.models:
        raise HelixInputError(
            args.config, "models", f"unknown model (known: {', '.join(sorted(cfg.models))})", args.model
        )
    check_method(args.method, "command line", "--method")
    entry = dict(sim_table(cfg).get(key) or {})
    if entry.get("parts"):
        raise HelixInputError(
            args.config, key, "this run aggregates sub-cluster parts; simulate each part (<cluster>-<part>)"
        )
    if not entry:  # a run no experiment lists: the config's simulation_defaults, as the workflow does
        spec = cfg.clusters.get(args.cluster)
        entry = {
            "cluster": args.cluster,
            "model": args.model,
            "method": args.method,
            "scheduler": args.scheduler,
            "mode": args.mode,
            "parent": None,
            "part": None,
            "parts": None,
            "workload": {"mode": args.mode, **getattr(cfg.simulation_defaults, args.mode)},
        }
        if reads_artifact_graph(args.method) and getattr(spec, "generator", None) == "subcluster":
            entry.update(parent=spec.parent, part=spec.gpu.lower())
        elif "-" in args.cluster and reads_artifact_graph(args.method):
            parent, part = args.cluster.split("-", 1)
            entry.update(parent=parent, part=part)
    wl = dict(entry["workload"])
    for field, value in (
        ("rate_tps", args.rate),
        ("n_init", args.n_init),
        ("duration_s", args.duration),
        ("seed", args.seed),
    ):
        if value is not None:
            wl[field] = value
    if args.force:
        wl["force"] = True
    try:
        entry["workload"] = WorkloadSpec.model_validate(wl).model_dump(mode="json")
    except ValidationError as exc:  # one line naming the option
        raise options_error(exc, OPTION_NAMES, "workload") from None
    gpus = ProfilePlan(cfg, ".", [], args.config).cluster_gpus(args.cluster)
    store = profile_store(cfg, args.profiles, args.model, gpus, args.config)
    model = cfg.models[args.model]
    with tempfile.TemporaryDirectory(prefix="helix-traces-") as tmp:  # removed on every path
        lengths, arrivals = _traces(cfg, Path(tmp))
        out = run_entry(
            entry,
            model_json=cfg.resolve_model_path(args.model),
            param_bytes_per_layer=model.param_bytes_per_layer,
            lengths=lengths,
            arrivals=arrivals,
            profiles=store,
            artifact=cfg.artifact_dir(),
            layout=f"results/placements/{args.cluster}/{args.model}/{args.method}/layout.yaml",
            cluster=f"results/clusters/{args.cluster}.yaml",
            gpus=gpu_entries(cfg, gpus),
            progress=not args.quiet,
        )
    names = ("metrics.json", "requests.parquet", "congestion.csv", "iterations.parquet", "meta.json")
    paths = dict(
        zip(("metrics", "requests", "congestion", "iterations", "meta"), (outdir / n for n in names))
    )
    m = write_run(paths, out, entry, {})
    p, d = m["prompt_latency_s"], m["decode_latency_s"]
    print(
        f"{key}: decode throughput {m['decode_throughput_tps']:.1f} tok/s; "
        f"prompt latency p50 {_s(p.get('p50'))}; "
        f"decode latency p50 {_s(d.get('p50'))}; wrote {outdir}"
    )
    return 0


def _s(value) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def _traces(cfg, tmp):
    """The project's trace files if imported, else converted on the fly from the artifact into ``tmp``."""
    from pathlib import Path

    from helix.profiles.paths import TRACE_FILES

    if all(Path(p).is_file() for p in TRACE_FILES):
        return TRACE_FILES
    from helix.artifact.traces import import_traces

    paths = import_traces(cfg.artifact_dir(), tmp)
    return str(paths["lengths"]), str(paths["arrivals"])
