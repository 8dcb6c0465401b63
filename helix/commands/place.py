"""`helix place`: place a model on a cluster with one method and write the result files.

By default it does what the workflow's placement rule does for results/placements/<cluster>/<model>/
<method>/ (same cluster, model, profiles and preset), so it writes the same layout byte for byte;
``--preset`` picks another named preset and the flags below override single fields.
"""

from __future__ import annotations

from helix.commands._common import add_config, add_profiles, example

HELP = "place a model on a cluster (petals, swarm, separate, sp_plus, helix, helix-<variant>, paper-<method>)"
EXAMPLE = example("""
helix place --cluster single24 --model llama70b --method helix
helix place --cluster my-cluster.yaml --model mistral7b --method swarm --out /tmp/place --preset default
""")


# preset field -> the option that sets it (for one-line errors naming the option)
OPTION_NAMES = {"time_limit_s": "--time-limit", "warm_start": "--warm-start", "write_model": "--write-model"}


def add_arguments(p) -> None:
    add_config(p)
    p.add_argument("--cluster", required=True, help="config cluster name, or a cluster .yaml/.ini file")
    p.add_argument("--model", required=True, help="config model name (with --model-config: any name)")
    p.add_argument("--method", default="helix", help="placement method (default: %(default)s)")
    p.add_argument(
        "--out",
        default=None,
        help="output directory (default: results/placements/<cluster>/<model>/<method>)",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="a placement_presets name (default: the one the config's `placement:` mapping gives this run)",
    )
    p.add_argument(
        "--model-config", default=None, help="an HF config.json instead of the config's model entry"
    )
    add_profiles(p)
    p.add_argument(
        "--param-bytes-per-layer", type=float, default=None, help="bytes of one layer's weights (override)"
    )
    p.add_argument("--time-limit", type=float, default=None, help="seconds (helix family)")
    p.add_argument("--backend", default=None, help="portfolio | heuristic | highs | cpsat | gurobi")
    p.add_argument("--seed", type=int, default=None, help="random seed of the search")
    p.add_argument("--threads", type=int, default=None, help="solver threads")
    p.add_argument("--prune", action="store_true", help="prune the cluster's links before the MILP")
    p.add_argument("--warm-start", default=None, help="none | petals | swarm | best")
    p.add_argument("--warm-start-file", default=None, help="a layout.yaml or *_sol.ini to start from")
    p.add_argument("--write-model", default=None, choices=["none", "lp", "mps"], help="also write the MILP")


def run(args) -> int:
    from pathlib import Path

    from pydantic import ValidationError

    from helix.commands._options import check_out_dir, options_error
    from helix.commands._common import gpu_entries, load, profile_store, resolve_cluster, resolve_model
    from helix.errors import HelixInputError
    from helix.placement.api import make_problem, run_placement
    from helix.placement.settings import PlacementPreset
    from helix.profiles.entry import model_profiles

    updates = {
        "time_limit_s": args.time_limit,
        "backend": args.backend,
        "seed": args.seed,
        "threads": args.threads,
        "warm_start": args.warm_start,
        "write_model": args.write_model,
        "prune": True if args.prune else None,
    }
    try:  # the options alone first: a bad value is refused before any work
        PlacementPreset.model_validate({k: v for k, v in updates.items() if v is not None})
    except ValidationError as exc:
        raise options_error(exc, OPTION_NAMES) from None
    if args.out:
        check_out_dir(args.out)
    cfg = load(args)
    cluster, cname = resolve_cluster(cfg, args.cluster, args.config)
    model = resolve_model(cfg, args.model, args.config, args.model_config, args.param_bytes_per_layer)
    if args.preset is not None:
        if args.preset not in cfg.placement_presets:
            raise HelixInputError(
                args.config,
                "placement_presets",
                f"unknown preset (known: {', '.join(sorted(cfg.placement_presets))})",
                args.preset,
            )
        preset = cfg.placement_presets[args.preset]
    else:
        # as the workflow: a serving-aware preset re-ranks at the configured online runs' rates
        from helix.placement.workflow import resolved_preset

        preset = resolved_preset(cfg, cname, args.model, args.method)
    try:
        preset = type(preset).model_validate(
            {**preset.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
        )
    except ValidationError as exc:  # one line naming the option
        raise options_error(exc, OPTION_NAMES) from None
    gpus = list(cluster.gpu_mix())
    store = profile_store(cfg, args.profiles, args.model, gpus, args.config)
    profiles = model_profiles(model, gpu_entries(cfg, gpus), store, source=args.config)
    out = check_out_dir(args.out or f"results/placements/{cname}/{args.model}/{args.method}")
    problem = make_problem(
        cluster,
        model,
        args.model,
        preset,
        profiles,
        str(cfg.artifact_dir()),
        cname,
        args.warm_start_file,
        out,
    )
    from helix.profiles.paths import TRACE_FILES

    if preset.objective == "served" and Path(TRACE_FILES[0]).is_file():
        # as the workflow: the served planner's best candidates are re-ranked by simulation
        from helix.planning.rerank import attach_reranker

        attach_reranker(problem, TRACE_FILES[0], gpu_entries(cfg, gpus), arrivals_path=TRACE_FILES[1])
    result = run_placement(problem, args.method, out)
    bound = f" (upper bound {result.upper_bound:.1f})" if result.upper_bound else ""
    print(f"{cname}/{args.model}/{args.method}: max-flow {result.objective:.1f} tok/s{bound}; wrote {out}")
    return 0
