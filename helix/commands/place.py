"""`helix place`: place a model on a cluster YAML with one method and write the result files."""

from __future__ import annotations

HELP = "place a model on a cluster (petals, swarm, separate, sp_plus, helix, paper-<method>)"


def add_arguments(p) -> None:
    p.add_argument("cluster", help="cluster YAML (results/clusters/<name>.yaml)")
    p.add_argument("model_config", help="the model's HF config.json")
    p.add_argument("--model", required=True, help="model name (llama70b, llama30b): selects profiles and engine limits")
    p.add_argument("--method", default="helix")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--profiles", default=None, help="profile root (resources/profiles); default: the artifact's")
    p.add_argument("--artifact", default=None, help="artifact directory (default: $HELIX_ARTIFACT_DIR)")
    p.add_argument("--param-bytes-per-layer", type=float, default=None)
    p.add_argument("--time-limit", type=float, default=None, help="seconds (helix)")
    p.add_argument("--backend", default=None, help="portfolio | heuristic | highs | cpsat | gurobi")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--prune", action="store_true")
    p.add_argument("--warm-start", default=None, help="none | petals | swarm | best")
    p.add_argument("--warm-start-file", default=None, help="a layout.yaml or *_sol.ini to start from")
    p.add_argument("--write-model", default=None, choices=["none", "lp", "mps"])


def run(args) -> int:
    import os
    from pathlib import Path

    from helix.cluster import Cluster
    from helix.errors import HelixInputError
    from helix.models import load_hf_config
    from helix.placement.api import make_problem, run_placement
    from helix.placement.settings import PlacementPreset
    from helix.profiles.store import ProfileStore

    updates = {
        "time_limit_s": args.time_limit, "backend": args.backend, "seed": args.seed, "threads": args.threads,
        "warm_start": args.warm_start, "write_model": args.write_model, "prune": True if args.prune else None,
    }
    try:
        preset = PlacementPreset(**{k: v for k, v in updates.items() if v is not None})
    except Exception as exc:  # pydantic ValidationError: keep it to one line
        raise HelixInputError(None, "options", str(exc).splitlines()[-1].strip()) from None
    artifact = args.artifact or os.environ.get("HELIX_ARTIFACT_DIR")
    store = ProfileStore(args.profiles) if args.profiles else ProfileStore.from_artifact(artifact or ".")
    cluster = Cluster.load(args.cluster)
    model = load_hf_config(args.model_config, args.model, param_bytes_per_layer_override=args.param_bytes_per_layer)
    problem = make_problem(cluster, model, args.model, preset, store, artifact, cluster.name, args.warm_start_file, args.out)
    result = run_placement(problem, args.method, Path(args.out))
    print(f"{cluster.name}/{args.model}/{args.method}: max_flow {result.objective:.2f} tok/s"
          + (f" (upper bound {result.upper_bound:.2f})" if result.upper_bound else ""))
    return 0
