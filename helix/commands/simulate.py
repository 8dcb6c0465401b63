"""`helix simulate`: run one configured simulation (or any paper layout) and write its result files."""

from __future__ import annotations

HELP = "simulate one run of the config's simulation table (or a paper-* layout with explicit settings)"


def add_arguments(p) -> None:
    from helix.scheduling import scheduler_names

    p.add_argument("--config", default="config/config.yaml", help="config YAML (default: config/config.yaml)")
    p.add_argument("--cluster", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--method", required=True, help="e.g. paper-helix, or one of our placement methods")
    p.add_argument("--scheduler", required=True, choices=scheduler_names())
    p.add_argument("--mode", required=True, choices=["offline", "online"])
    p.add_argument("--rate", type=float, default=None, help="online token rate (overrides the config)")
    p.add_argument("--n-init", type=int, default=None, help="offline initial concurrency (overrides the config)")
    p.add_argument("--duration", type=float, default=None, help="online arrivals / offline measured span, s")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--force", action="store_true", help="run nodes above K layers with the K-layer limits")
    p.add_argument("--profiles", default=None, help="project profile root (default: the artifact's tables)")
    p.add_argument("--out", required=True, help="output directory (metrics.json, requests.parquet, congestion.csv, iterations.parquet)")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    from pathlib import Path

    from helix.config import load_config
    from helix.errors import HelixInputError
    from helix.profiles.store import ProfileStore
    from helix.sim.experiments import run_key, sim_table
    from helix.sim.outputs import write_run
    from helix.sim.pipeline import run_entry
    from helix.sim.settings import WorkloadSpec

    cfg = load_config(args.config)
    key = run_key(args.cluster, args.model, args.method, args.scheduler, args.mode)
    entry = dict(sim_table(cfg).get(key) or {})
    if entry.get("parts"):
        raise HelixInputError(args.config, key, "this run aggregates sub-cluster parts; simulate each part (<cluster>-<part>)")
    if not entry:
        entry = {"cluster": args.cluster, "model": args.model, "method": args.method, "scheduler": args.scheduler, "mode": args.mode, "parent": None, "part": None, "parts": None, "workload": {"mode": args.mode}}
        if "-" in args.cluster and args.method.startswith("paper-"):
            parent, part = args.cluster.split("-", 1)
            entry.update(parent=parent, part=part)
    wl = dict(entry["workload"])
    for field, value in (("rate_tps", args.rate), ("n_init", args.n_init), ("duration_s", args.duration), ("seed", args.seed)):
        if value is not None:
            wl[field] = value
    if args.force:
        wl["force"] = True
    try:
        entry["workload"] = WorkloadSpec.model_validate(wl).model_dump(mode="json")
    except Exception as exc:  # pydantic validation: one line
        msg = str(exc).splitlines()
        raise HelixInputError("command line", "workload", msg[2].strip() if len(msg) > 2 else msg[0]) from None
    model = cfg.models.get(args.model)
    if model is None:
        raise HelixInputError(args.config, "models", "unknown model", args.model)
    store = ProfileStore(args.profiles) if args.profiles else ProfileStore.from_artifact(cfg.artifact_dir())
    out = run_entry(
        entry,
        model_json=cfg.resolve_model_path(args.model),
        param_bytes_per_layer=model.param_bytes_per_layer,
        lengths=_traces(cfg)[0],
        arrivals=_traces(cfg)[1],
        profiles=store,
        artifact=cfg.artifact_dir(),
        layout=f"results/placements/{args.cluster}/{args.model}/{args.method}/layout.yaml",
        cluster=f"results/clusters/{args.cluster}.yaml",
        gpus={k: v.model_dump(mode="json") for k, v in cfg.gpus.items()},
        progress=not args.quiet,
    )
    outdir = Path(args.out)
    names = ("metrics.json", "requests.parquet", "congestion.csv", "iterations.parquet")
    paths = dict(zip(("metrics", "requests", "congestion", "iterations"), (outdir / n for n in names)))
    m = write_run(paths, out, entry, {})
    p, d = m["prompt_latency_s"], m["decode_latency_s"]
    print(f"{key}: decode throughput {m['decode_throughput_tps']:.2f} tok/s; prompt p50 {p['p50']}; decode p50 {d['p50']}; wrote {outdir}")
    return 0


def _traces(cfg):
    """The project's trace files if imported, else converted on the fly from the pinned artifact."""
    from pathlib import Path

    from helix.profiles.paths import TRACE_FILES

    if all(Path(p).is_file() for p in TRACE_FILES):
        return TRACE_FILES
    import tempfile

    from helix.artifact.traces import import_traces

    tmp = Path(tempfile.mkdtemp(prefix="helix-traces-"))
    paths = import_traces(cfg.artifact_dir(), tmp)
    return str(paths["lengths"]), str(paths["arrivals"])
