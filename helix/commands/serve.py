"""`helix serve`: run the prototype (host + one worker per placed machine) for a fixed duration."""

from __future__ import annotations

import json

HELP = "serve a model with the Helix prototype (local processes or Ray) and write its event log and metrics"


def add_arguments(p) -> None:
    p.add_argument("--layout", required=True, help="layout YAML (results/placements/.../layout.yaml or config/test/*layout*.yaml)")
    p.add_argument("--model-config", required=True, help="HF config.json of the model (random seeded weights)")
    p.add_argument("--model", default=None, help="model name (default: the config file's stem)")
    p.add_argument("--cluster", default=None, help="cluster YAML: GPU types (Ray mapping) and which links exist")
    p.add_argument("--out", required=True, help="output directory (events.csv, routes.csv, metrics.json, ...)")
    p.add_argument("--scheduler", default="helix", choices=["helix", "swarm", "random"])
    p.add_argument("--mode", default="offline", choices=["offline", "online"])
    p.add_argument("--duration-s", type=float, default=20.0)
    p.add_argument("--warmup-s", type=float, default=5.0)
    p.add_argument("--rate-tps", type=float, default=None, help="online: input+output tokens/s")
    p.add_argument("--n-init", type=int, default=8, help="offline: concurrency")
    p.add_argument("--length-scale", type=float, default=None, help="scale Azure lengths (tiny models: e.g. 0.0625)")
    p.add_argument("--max-input", type=int, default=None, help="clip prompt lengths (after scaling)")
    p.add_argument("--max-output", type=int, default=None, help="clip output lengths (after scaling)")
    p.add_argument("--launcher", default="local", choices=["local", "ray"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--lengths", default=None, help="lengths Parquet (resources/traces); default: the artifact")
    p.add_argument("--arrivals", default=None, help="arrivals CSV (resources/traces); default: the artifact")
    p.add_argument("--spec", default=None, help="JSON/YAML file with more run settings (ProtoRunSpec fields)")
    p.add_argument("--base-port", type=int, default=None, help="fixed ports base+k (default: free loopback ports)")


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

    extra = {}
    if args.spec:
        extra = yaml.safe_load(Path(args.spec).read_text()) or {}
    fields = dict(
        cluster="cli", model=args.model or Path(args.model_config).stem, method="cli", scheduler=args.scheduler,
        mode=args.mode, duration_s=args.duration_s, warmup_s=args.warmup_s, rate_tps=args.rate_tps, n_init=args.n_init,
        launcher=args.launcher, device=args.device, dtype=args.dtype,
    )
    lengths = {k: v for k, v in (("scale", args.length_scale), ("max_input", args.max_input), ("max_output", args.max_output)) if v is not None}
    if lengths:
        fields["lengths"] = lengths
    fields.update(extra)
    try:
        spec = ProtoRunSpec.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise HelixInputError(args.spec or "serve", ".".join(map(str, err["loc"])), err["msg"], err.get("input", ...)) from None
    cluster = Cluster.load(args.cluster) if args.cluster else None
    layout = Layout.load(args.layout, cluster)
    lengths, arrivals = load_traces(args.lengths, args.arrivals)
    try:
        metrics = run_prototype(layout, args.model_config, spec, args.out, lengths, arrivals, cluster, base_port=args.base_port)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps({k: metrics[k] for k in ("decode_throughput_tps", "prompt_latency_s", "decode_latency_s", "failed_requests")}, indent=2))
    return 0
