"""`helix serve`: run the prototype (host + one worker per placed machine).

Two modes. Without ``--http-port``: serve the paper's generated workload for ``--duration-s`` and
write the event log and metrics (the experiments). With ``--http-port``: serve an OpenAI-compatible
endpoint (``helix.prototype.api``) until interrupted; requests are scheduled like the workload's.
``--checkpoint`` serves a Hugging Face checkpoint directory (weights and tokenizer) instead of
seeded random weights; every worker's tensors are checked before any worker starts.
"""

from __future__ import annotations

from helix.commands._common import add_config, example

import json

HELP = (
    "serve a model with the Helix prototype (local processes or Ray): a generated workload, "
    "or an OpenAI-compatible endpoint"
)
EXAMPLE = example("""
helix serve --layout config/test/proto-layout.yaml --model-config config/test/tiny-llama.json \
--out /tmp/serve --duration-s 8
helix serve --layout results/placements/tiny4/tiny-llama/helix/layout.yaml --model tiny-llama \
--config config/test/config.yaml --cluster tiny4 --out /tmp/serve
""")


def add_arguments(p) -> None:
    p.add_argument(
        "--layout",
        required=True,
        help="layout YAML (results/placements/.../layout.yaml or config/test/*layout*.yaml)",
    )
    p.add_argument("--model-config", default=None, help="HF config.json of the model (seeded random weights)")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="HF checkpoint directory (config.json, *.safetensors, tokenizer.json): "
        "real weights; on a cluster the same path must exist on every worker machine",
    )
    add_config(p)
    p.add_argument(
        "--model",
        default=None,
        help="config model name (its config.json unless --model-config / "
        "--checkpoint); default: the config file's stem / checkpoint folder name",
    )
    p.add_argument(
        "--cluster",
        default=None,
        help="config cluster name (results/clusters/<name>.yaml) or a cluster YAML: "
        "GPU types (Ray mapping) and which links exist",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output directory (events.csv, routes.csv, metrics.json, ...); required without --http-port",
    )
    p.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="serve an OpenAI-compatible endpoint on this port (0: any free "
        "port) until interrupted, instead of a generated workload",
    )
    p.add_argument(
        "--http-host", default="127.0.0.1", help="address the endpoint binds (default loopback only)"
    )
    p.add_argument(
        "--scheduler", default="helix", choices=["helix", "swarm", "random"], help="request scheduler"
    )
    p.add_argument("--mode", default="offline", choices=["offline", "online"], help="workload mode")
    p.add_argument("--duration-s", type=float, default=20.0, help="seconds of serving (default: %(default)s)")
    p.add_argument(
        "--warmup-s", type=float, default=5.0, help="seconds left out of the metrics (default: %(default)s)"
    )
    p.add_argument("--rate-tps", type=float, default=None, help="online: input+output tokens/s")
    p.add_argument("--n-init", type=int, default=8, help="offline: concurrency")
    p.add_argument(
        "--length-scale", type=float, default=None, help="scale Azure lengths (tiny models: e.g. 0.0625)"
    )
    p.add_argument("--max-input", type=int, default=None, help="clip prompt lengths (after scaling)")
    p.add_argument("--max-output", type=int, default=None, help="clip output lengths (after scaling)")
    p.add_argument(
        "--launcher",
        default="local",
        choices=["local", "ray"],
        help="workers as local processes or Ray actors",
    )
    p.add_argument("--device", default="cpu", help="torch device of the workers (default: %(default)s)")
    p.add_argument(
        "--dtype", default="float32", choices=["float32", "float16", "bfloat16"], help="weight dtype"
    )
    p.add_argument(
        "--lengths", default=None, help="lengths Parquet (resources/traces); default: the artifact"
    )
    p.add_argument("--arrivals", default=None, help="arrivals CSV (resources/traces); default: the artifact")
    p.add_argument("--spec", default=None, help="JSON/YAML file with more run settings (ProtoRunSpec fields)")
    p.add_argument(
        "--base-port", type=int, default=None, help="fixed ports base+k (default: free loopback ports)"
    )


def run(args) -> int:
    from pathlib import Path

    import sys

    import yaml
    from pydantic import ValidationError

    from helix.cluster import Cluster
    from helix.errors import HelixInputError
    from helix.layout import Layout
    from helix.prototype.run import StartupError, run_prototype
    from helix.prototype.settings import ProtoRunSpec
    from helix.prototype.traces import load_traces

    if not args.model_config and not args.checkpoint and args.model:
        from helix.commands._common import load

        cfg = load(args)
        if args.model not in cfg.models:
            raise HelixInputError(
                args.config, "models", f"unknown model (known: {', '.join(sorted(cfg.models))})", args.model
            )
        args.model_config = str(cfg.resolve_model_path(args.model))
    if not args.model_config and not args.checkpoint:
        raise HelixInputError(
            "serve", "--model-config", "give --model, --model-config (random weights) or --checkpoint"
        )
    if (
        args.cluster
        and not Path(args.cluster).is_file()
        and Path(f"results/clusters/{args.cluster}.yaml").is_file()
    ):
        args.cluster = f"results/clusters/{args.cluster}.yaml"
    if args.http_port is None and not args.out:
        raise HelixInputError("serve", "--out", "a workload run needs an output directory")
    default_name = Path(args.checkpoint).resolve().name if args.checkpoint else Path(args.model_config).stem
    extra = {}
    if args.spec:
        extra = yaml.safe_load(Path(args.spec).read_text()) or {}
    fields = dict(
        cluster="cli",
        model=args.model or default_name,
        method="cli",
        scheduler=args.scheduler,
        mode="online" if args.http_port is not None else args.mode,
        duration_s=args.duration_s,
        warmup_s=args.warmup_s,
        rate_tps=args.rate_tps,
        n_init=args.n_init,
        launcher=args.launcher,
        device=args.device,
        dtype=args.dtype,
    )
    lengths = {
        k: v
        for k, v in (
            ("scale", args.length_scale),
            ("max_input", args.max_input),
            ("max_output", args.max_output),
        )
        if v is not None
    }
    if lengths:
        fields["lengths"] = lengths
    fields.update(extra)
    try:
        spec = ProtoRunSpec.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HelixInputError(
            args.spec or "serve", ".".join(map(str, err["loc"])), err["msg"], err.get("input", ...)
        ) from None
    cluster = Cluster.load(args.cluster) if args.cluster else None
    layout = Layout.load(args.layout, cluster)
    if args.http_port is not None:
        return _serve_http(args, layout, spec, cluster)
    lengths, arrivals = load_traces(args.lengths, args.arrivals)
    try:
        metrics = run_prototype(
            layout,
            args.model_config,
            spec,
            args.out,
            lengths,
            arrivals,
            cluster,
            base_port=args.base_port,
            checkpoint=args.checkpoint,
        )
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(
        json.dumps(
            {
                k: metrics[k]
                for k in ("decode_throughput_tps", "prompt_latency_s", "decode_latency_s", "failed_requests")
            },
            indent=2,
        )
    )
    return 0


def _serve_http(args, layout, spec, cluster) -> int:
    """The endpoint: checks (checkpoint tensors, tokenizer) first, then workers, then HTTP."""
    import signal
    import sys
    import tempfile
    import threading
    from pathlib import Path

    from helix.errors import HelixInputError
    from helix.prototype.api import make_server
    from helix.prototype.run import StartupError, resolve_model, write_serving_outputs
    from helix.prototype.serving import Deployment
    from helix.prototype.text import TextCodec

    if not args.checkpoint:
        raise HelixInputError(
            "serve", "--checkpoint", "the endpoint serves text: it needs a checkpoint with a tokenizer.json"
        )
    model, _ = resolve_model(
        layout, None, args.checkpoint, spec.model
    )  # every worker's tensors, before anything starts
    codec = TextCodec(args.checkpoint, model.vocab_size)
    work = Path(args.out) / "work" if args.out else Path(tempfile.mkdtemp(prefix="helix-serve-"))
    dep = Deployment(
        layout, spec, checkpoint=args.checkpoint, cluster=cluster, base_port=args.base_port, work_dir=work
    )
    try:
        srv = make_server(dep, codec, spec.model, args.http_host, args.http_port)
    except OSError as exc:
        raise HelixInputError(
            "serve",
            "--http-port",
            f"cannot listen on {args.http_host}:{args.http_port}: {exc.strerror}",
            args.http_port,
        ) from None
    try:
        dep.start()
    except StartupError as exc:
        srv.server_close()
        print(f"error: {exc}", file=sys.stderr)
        return 3
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host, port = srv.server_address[:2]
    print(
        f"serving {spec.model} on http://{host}:{port}/v1 ({len(dep.cfg.workers)} workers); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        srv.shutdown()
        srv.server_close()
        dep_host = dep.host
        events = list(dep_host.events) if dep_host is not None else []
        rows = (dep_host.route_rows(), dep_host.token_rows()) if dep_host is not None else ([], [])
        stats = dep.close()
        if args.out:
            write_serving_outputs(Path(args.out), dep.cfg, events, rows, stats, spec, model)
    print(json.dumps({k: stats.get(k) for k in ("requests", "finished", "failed")}), flush=True)
    return 0
