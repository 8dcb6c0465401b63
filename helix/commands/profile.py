"""`helix profile`: time one decoder layer of a model on this machine and write its profile files."""

from __future__ import annotations

from helix.commands._common import add_config, example

HELP = "time one decoder layer (prompt and decode grids) and write prompt.csv, decode.csv, meta.json"
EXAMPLE = example("""
helix profile --model llama70b --gpu H100 --device cuda
helix profile --model tiny-llama --model-config config/test/tiny-llama.json --gpu cpu --out /tmp/tiny-cpu
""")


def _ints(text: str) -> tuple[int, ...]:
    from helix.errors import HelixInputError

    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise HelixInputError(None, "grid", "expected comma-separated integers", text) from None


def add_arguments(p) -> None:
    add_config(p)
    p.add_argument(
        "--model",
        required=True,
        help="config model name (with --model-config: any name; the profile's directory)",
    )
    p.add_argument(
        "--model-config",
        "--config-json",
        dest="model_config",
        default=None,
        help="an HF config.json instead of the config's model entry",
    )
    p.add_argument(
        "--gpu", required=True, help="machine type name the profile is for (e.g. H100; 'cpu' on CPU)"
    )
    p.add_argument(
        "--out",
        default=None,
        help="output directory (prompt.csv, decode.csv, meta.json; "
        "default: results/profiles/measured/<model>/<gpu>)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to run the layer")
    p.add_argument(
        "--dtype", default=None, help="float16 | bfloat16 on CUDA (default float16); float32 on CPU"
    )
    p.add_argument("--prompt-tokens", type=_ints, default=None, help="e.g. 250,500,1000 (default per device)")
    p.add_argument("--decode-batches", type=_ints, default=None, help="e.g. 2,4,8,16")
    p.add_argument("--contexts", type=_ints, default=None, help="decode context lengths, e.g. 256,990")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls before each measurement")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per grid point (median kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")


def run(args) -> int:
    from dataclasses import replace

    from helix.profiles.profiler import default_grid, profile_layer, write_run

    grid = default_grid(args.device)
    changes = {
        k: v
        for k, v in {
            "prompt_tokens": args.prompt_tokens,
            "decode_batches": args.decode_batches,
            "contexts": args.contexts,
            "warmup": args.warmup,
            "repeats": args.repeats,
        }.items()
        if v is not None
    }
    grid = replace(grid, **changes)
    model_config = args.model_config
    if model_config is None:
        from helix.commands._common import load

        cfg = load(args)
        if args.model not in cfg.models:
            from helix.errors import HelixInputError

            raise HelixInputError(
                args.config,
                "models",
                f"unknown model (known: {', '.join(sorted(cfg.models))}; or give --model-config)",
                args.model,
            )
        model_config = str(cfg.resolve_model_path(args.model))
    prof = profile_layer(
        model_config, args.model, device=args.device, dtype=args.dtype, grid=grid, seed=args.seed
    )
    out = write_run(
        prof, args.out or f"results/profiles/measured/{args.model}/{args.gpu.lower()}", args.model, args.gpu
    )
    print(
        f"{out}: {len(prof.prompt)} prompt and {len(prof.decode)} decode points "
        f"({prof.meta.get('gpu_name') or prof.meta.get('cpu')}, {prof.meta['dtype']})"
    )
    return 0
