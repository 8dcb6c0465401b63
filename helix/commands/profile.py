"""`helix profile`: time one decoder layer of a model on this machine and write its profile files."""

from __future__ import annotations

HELP = "time one decoder layer (prompt and decode grids) and write prompt.csv, decode.csv, meta.json"


def _ints(text: str) -> tuple[int, ...]:
    from helix.errors import HelixInputError

    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise HelixInputError(None, "grid", "expected comma-separated integers", text) from None


def add_arguments(p) -> None:
    p.add_argument("--config-json", required=True, help="the model's HF config.json")
    p.add_argument("--model", required=True, help="model name (directory name of the profile)")
    p.add_argument("--gpu", required=True, help="machine type name the profile is for (e.g. H100; 'cpu' on CPU)")
    p.add_argument("--out", required=True, help="output directory (gets prompt.csv, decode.csv, meta.json)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--dtype", default=None, help="float16 | bfloat16 on CUDA (default float16); float32 on CPU")
    p.add_argument("--prompt-tokens", type=_ints, default=None, help="e.g. 250,500,1000 (default per device)")
    p.add_argument("--decode-batches", type=_ints, default=None, help="e.g. 2,4,8,16")
    p.add_argument("--contexts", type=_ints, default=None, help="decode context lengths, e.g. 256,990")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from dataclasses import replace

    from helix.profiles.profiler import default_grid, profile_layer, write_run

    grid = default_grid(args.device)
    changes = {k: v for k, v in {"prompt_tokens": args.prompt_tokens, "decode_batches": args.decode_batches,
                                 "contexts": args.contexts, "warmup": args.warmup,
                                 "repeats": args.repeats}.items() if v is not None}
    grid = replace(grid, **changes)
    prof = profile_layer(args.config_json, args.model, device=args.device, dtype=args.dtype, grid=grid,
                         seed=args.seed)
    out = write_run(prof, args.out, args.model, args.gpu)
    print(f"{out}: {len(prof.prompt)} prompt and {len(prof.decode)} decode points "
          f"({prof.meta.get('gpu_name') or prof.meta.get('cpu')}, {prof.meta['dtype']})")
    return 0
