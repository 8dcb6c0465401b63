"""Time one decoder layer of a model on the machine at hand and write the project's profile files.

Why: the simulator and placement need per-layer prompt and decode times for every (model, GPU) pair;
the paper measured its own by hand. This makes a measurement a workflow step: build one LLaMA layer
from the model's HF ``config.json`` with random weights (the prototype's ``DecoderLayer``, so the
profiled code is the code the prototype serves with), then time

* prompt: batches of N tokens made of sequences of ``min(N, PROMPT_SEQ_LEN)`` tokens, one causal
  prompt pass per sequence (as the prototype engine runs prompts);
* decode: batches of B sequences, one new token each, against a KV cache of ``context`` tokens,
  for every context of the grid. The project's ``decode.csv`` is batch-only (docs/design/simulator.md s2.4),
  so it takes the context nearest to the typical 990 tokens; all contexts go to ``decode_context.csv``.

Each point: ``warmup`` untimed calls, then ``repeats`` timed calls (CUDA events on GPU, perf_counter
on CPU); the median is the point, (max - min) / median its spread. fp16 (or bf16) on CUDA, fp32 on CPU.
"""

from __future__ import annotations

import datetime as _dt
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helix.errors import HelixInputError
from helix.profiles.cost import DECODE_CONTEXT, PROMPT_SEQ_LEN
from helix.profiles.measured import check_times

DTYPES = ("float16", "bfloat16", "float32")


@dataclass(frozen=True)
class ProfileGrid:
    prompt_tokens: tuple[int, ...]
    decode_batches: tuple[int, ...]
    contexts: tuple[int, ...]
    warmup: int = 2
    repeats: int = 5

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "decode_batches", "contexts"):
            vals = getattr(self, name)
            if not vals or any(int(v) <= 0 for v in vals) or list(vals) != sorted(set(vals)):
                raise HelixInputError(
                    None, name, "must be positive, strictly increasing integers", list(vals)
                )
        if self.repeats < 1 or self.warmup < 0:
            raise HelixInputError(
                None, "repeats", "repeats must be >= 1 and warmup >= 0", (self.repeats, self.warmup)
            )


# Default grids: the artifact's shape on GPUs; small and quick on CPU (tiny test models).
GPU_GRID = ProfileGrid(
    prompt_tokens=tuple(range(250, 7500 + 1, 250)),
    decode_batches=(*range(2, 21, 2), *range(25, 101, 5), *range(120, 500 + 1, 20)),
    contexts=(256, 512, DECODE_CONTEXT, 2048),
    warmup=3,
    repeats=10,
)
CPU_GRID = ProfileGrid(
    prompt_tokens=(16, 64, 256), decode_batches=(1, 4, 16), contexts=(32, 128), warmup=2, repeats=7
)
CPU_THREADS = 1  # one thread: CPU profiles exist to test the code path, and shared CI cores are noisy


def default_grid(device: str) -> ProfileGrid:
    return GPU_GRID if device == "cuda" else CPU_GRID


@dataclass
class ProfileRun:
    """What one profiling run measured (seconds per layer) and the facts for meta.json."""

    prompt: dict[int, float]
    decode: dict[tuple[int, int], float]  # (batch, context) -> seconds
    spread: dict[str, float]
    meta: dict = field(default_factory=dict)

    def decode_context(self) -> int:
        """The grid context used for decode.csv: nearest to the typical 990 tokens."""
        contexts = sorted({c for _, c in self.decode})
        return min(contexts, key=lambda c: (abs(c - DECODE_CONTEXT), c))


def _resolve_device(device: str, dtype: str | None):
    import torch

    if device not in ("cpu", "cuda"):
        raise HelixInputError(None, "device", "must be 'cpu' or 'cuda'", device)
    if device == "cuda" and not torch.cuda.is_available():
        raise HelixInputError(
            None, "device", "CUDA requested but no CUDA device is available to torch", device
        )
    dtype = dtype or ("float16" if device == "cuda" else "float32")
    if dtype not in DTYPES:
        raise HelixInputError(None, "dtype", f"must be one of {list(DTYPES)}", dtype)
    if device == "cpu" and dtype != "float32":
        raise HelixInputError(None, "dtype", "CPU profiles run in float32", dtype)
    return torch.device(device), getattr(torch, dtype)


class _Timer:
    """Median of repeated calls; CUDA events on GPU (device time), perf_counter on CPU."""

    def __init__(self, device, warmup: int, repeats: int):
        self.device, self.warmup, self.repeats = device, warmup, repeats

    def __call__(self, fn) -> tuple[float, float]:
        import torch

        for _ in range(self.warmup):
            fn()
        times = []
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            for _ in range(self.repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) * 1e-3)
        else:
            for _ in range(self.repeats):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        med = statistics.median(times)
        return med, (max(times) - min(times)) / med if med > 0 else 0.0


def profile_layer(
    config_json: str | Path,
    model: str,
    *,
    device: str = "cpu",
    dtype: str | None = None,
    grid: ProfileGrid | None = None,
    seed: int = 0,
) -> ProfileRun:
    """Build one decoder layer of ``config_json`` and time it over ``grid`` (module docstring)."""
    tdev, tdtype = _resolve_device(device, dtype)
    import torch
    import torch.nn.functional as F

    from helix.prototype.model import DecoderLayer, LayerCache, LlamaConfig

    cfg = LlamaConfig.from_json(config_json, model)  # one-line error for a non-decoder config
    grid = grid or default_grid(device)
    torch.manual_seed(seed)
    if tdev.type == "cpu":
        torch.set_num_threads(CPU_THREADS)
    layer = DecoderLayer(cfg, 0, seed).to(device=tdev, dtype=tdtype)
    timer = _Timer(tdev, grid.warmup, grid.repeats)
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def hidden(n: int):
        return (torch.randn(n, cfg.hidden_size, generator=gen) * 0.1).to(device=tdev, dtype=tdtype)

    spreads: dict[str, float] = {}
    prompt: dict[int, float] = {}
    with torch.inference_mode():
        for n in grid.prompt_tokens:
            s = min(n, PROMPT_SEQ_LEN)
            seqs = [s] * (n // s) + ([n % s] if n % s else [])
            xs = [hidden(k) for k in seqs]
            caches = [LayerCache(cfg, k, tdev, tdtype) for k in seqs]

            def run_prompt(xs=xs, caches=caches):
                for x, c in zip(xs, caches):
                    layer.forward_prompt(x, c)

            prompt[n], spreads[f"prompt/{n}"] = timer(run_prompt)

        decode: dict[tuple[int, int], float] = {}
        hq, hkv, d = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        for ctx in grid.contexts:
            for b in grid.decode_batches:
                # One preallocated [B, kv heads, ctx + 1, d] cache per K and V: the read a paged
                # engine does, without re-stacking per-request caches on every call.
                k_cache = (torch.randn(b, hkv, ctx + 1, d, generator=gen) * 0.1).to(device=tdev, dtype=tdtype)
                v_cache = (torch.randn(b, hkv, ctx + 1, d, generator=gen) * 0.1).to(device=tdev, dtype=tdtype)
                x = hidden(b)
                pos = torch.full((b,), ctx, dtype=torch.long, device=tdev)

                def run_decode(x=x, pos=pos, k_cache=k_cache, v_cache=v_cache, b=b, ctx=ctx):
                    q, k, v = layer.qkv(x, pos)  # q: [B, hq, d], k/v: [B, hkv, d]
                    k_cache[:, :, ctx] = k
                    v_cache[:, :, ctx] = v
                    out = F.scaled_dot_product_attention(
                        q[:, :, None, :], k_cache, v_cache, enable_gqa=hq != hkv
                    )
                    return layer.finish(x, out.reshape(b, -1))

                decode[(b, ctx)], spreads[f"decode/{b}/{ctx}"] = timer(run_decode)
                del k_cache, v_cache
    run = ProfileRun(prompt, decode, spreads)
    run.meta = _machine_meta(tdev, tdtype, cfg, grid, seed)
    return run


def _machine_meta(tdev, tdtype, cfg, grid: ProfileGrid, seed: int) -> dict:
    import torch

    meta = {
        "device": tdev.type,
        "dtype": str(tdtype).replace("torch.", ""),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model_config": cfg.to_dict(),
        "grid": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(grid).items()},
        "seed": seed,
    }
    if tdev.type == "cuda":
        props = torch.cuda.get_device_properties(tdev)
        meta.update(
            gpu_name=props.name,
            gpu_memory_bytes=int(props.total_memory),
            cuda_version=torch.version.cuda,
            driver=_nvidia_driver(),
        )
    else:
        meta.update(
            gpu_name=None,
            cpu=platform.processor() or platform.machine(),
            driver=None,
            torch_threads=torch.get_num_threads(),
        )
    return meta


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_run(run: ProfileRun, out_dir: str | Path, model: str, gpu: str) -> Path:
    """Write prompt.csv, decode.csv (typical context), decode_context.csv and meta.json.

    Times are checked (finite, non-negative) before anything is written, so a bad measurement
    leaves no partial output. Monotonicity is checked where a measured profile is *used*
    (``helix.profiles.measured.read_measured``): tiny CPU layers are overhead-bound and their flat
    grids legitimately wobble with machine noise, which the recorded spread shows.
    """
    from helix.io import write_text
    from helix.profiles.store import LayerProfile, ProfileTable, write_profile

    out_dir = Path(out_dir)
    ctx = run.decode_context()
    p_tokens = (0, *sorted(run.prompt))
    p_secs = (0.0, *(run.prompt[n] for n in sorted(run.prompt)))
    batches = sorted(b for b, c in run.decode if c == ctx)
    d_tokens = (0, *batches)
    d_secs = (0.0, *(run.decode[(b, ctx)] for b in batches))
    check_times(out_dir / "prompt.csv", p_tokens, p_secs, rel_tol=1.0)
    check_times(out_dir / "decode.csv", d_tokens, d_secs, rel_tol=1.0)
    profile = LayerProfile(
        model,
        gpu,
        ProfileTable(p_tokens, p_secs, str(out_dir / "prompt.csv")),
        ProfileTable(d_tokens, d_secs, str(out_dir / "decode.csv")),
    )
    spreads = sorted(run.spread.values())
    meta = {
        "source": "measured",
        "units": "seconds per layer (median of repeats)",
        "decode_context": ctx,
        "spread": {
            "definition": "(max - min) / median of the repeats, per grid point",
            "median": statistics.median(spreads),
            "max": spreads[-1],
        },
        **run.meta,
    }
    rows = ["batch,context,seconds"] + [f"{b},{c},{s!r}" for (b, c), s in sorted(run.decode.items())]
    write_text(out_dir / "decode_context.csv", "\n".join(rows) + "\n")
    write_profile(out_dir, profile, meta)
    return out_dir
