"""CPU prototype decode throughput on the test placement next to a single-process run (ratio).

The prototype: host + 4 worker processes (config/test/proto-layout.yaml, tiny-llama, helix
scheduler, offline closed loop of N requests). The baseline: one process holding all layers in one
``torch`` engine, the same closed loop (same lengths, same concurrency, batched decodes), no
network. ratio = prototype / single process: what splitting the model over processes costs here
(on a 2-core box the 5 processes also compete for the cores).

    python benchmarks/prototype.py [--duration-s 15] [--n-init 8]
    # GPU check (all workers share the GPU): LLaMA-2-70B-shaped layers, 8 of them, bf16
    python benchmarks/prototype.py --device cuda --dtype bfloat16 --shape-from <llama70b config.json> --length-scale 0.25
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LENGTHS = {"scale": 0.0625, "min_input": 4, "max_input": 64, "min_output": 2, "max_output": 16}


def shaped_config(src: Path, out_dir: Path) -> Path:
    """An 8-layer model with the shapes of ``src`` (e.g. LLaMA-2-70B), for the 8-layer test layout."""
    data = json.loads(Path(src).read_text())
    data.update(num_hidden_layers=8, max_position_embeddings=max(4096, data.get("max_position_embeddings", 0)))
    path = out_dir / f"shape-{Path(src).parent.name or 'model'}.json"
    path.write_text(json.dumps(data))
    return path


def single_process(spec, lengths, duration_s: float, warmup_s: float, model_config: Path) -> float:
    """Decode tokens/s of one process serving the same closed loop with batched decodes."""
    import torch

    from helix.prototype.engines import StageWork, get_engine
    from helix.prototype.host import prompt_ids, scaled_lengths
    from helix.prototype.model import LlamaConfig
    from helix.workload import LengthSampler

    torch.set_num_threads(spec.threads)
    cfg = LlamaConfig.from_json(model_config, spec.model)
    eng = get_engine("torch")(cfg, (0, cfg.num_layers), device=spec.device, dtype=spec.dtype)
    a, b = scaled_lengths(*lengths, spec)
    sampler = LengthSampler(a.tolist(), b.tolist(), random.Random(spec.seed))
    live = {}
    rid = 0

    def launch():
        nonlocal rid
        i, o = sampler.sample()
        live[rid] = {"in": i, "out": o, "toks": []}
        eng.submit(StageWork(rid, "prompt", 0, cfg.num_layers, torch.tensor(prompt_ids(0, rid, i, cfg.vocab_size), dtype=torch.int32), i + o, 0))
        rid += 1

    for _ in range(spec.n_init):
        launch()
    t0 = time.monotonic()
    decodes = []
    while time.monotonic() - t0 < duration_s:
        for out in eng.step():
            r = live[out.work.rid]
            if out.work.phase == "decode":
                decodes.append(time.monotonic() - t0)
            r["toks"].append(int(out.payload[0]))
            if len(r["toks"]) >= r["out"]:
                del live[out.work.rid]
                launch()
            else:
                ctx = r["in"] + len(r["toks"]) - 1
                eng.submit(StageWork(out.work.rid, "decode", 0, cfg.num_layers, out.payload, r["in"] + r["out"], ctx))
    kept = [t for t in decodes if t >= warmup_s]
    return len(kept) / (kept[-1] - kept[0] + 1e-6) if len(kept) > 1 else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration-s", type=float, default=15.0)
    p.add_argument("--warmup-s", type=float, default=3.0)
    p.add_argument("--n-init", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--shape-from", default=None, help="HF config.json whose shapes the 8-layer model takes")
    p.add_argument("--length-scale", type=float, default=LENGTHS["scale"])
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
        model_config = shaped_config(Path(args.shape_from), Path(tmp)) if args.shape_from else REPO / "config/test/tiny-llama.json"
        spec = ProtoRunSpec(cluster="tiny4", model=model_config.stem, method="manual", scheduler="helix", mode="offline",
                            duration_s=args.duration_s, warmup_s=args.warmup_s, n_init=args.n_init, lengths=lengths_cfg,
                            layer_tps=2000, kv_slots=10**6, startup_timeout_s=300, device=args.device, dtype=args.dtype)
        lengths, arrivals = load_traces()
        m = run_prototype(Layout.load(REPO / "config/test/proto-layout.yaml"), model_config, spec, Path(tmp) / "run",
                          lengths, arrivals, log=lambda s: None)
        proto = m["decode_throughput_tps"]
        single = single_process(spec, lengths, args.duration_s, args.warmup_s, model_config)
    print(json.dumps({
        "placement": f"config/test/proto-layout.yaml (4 workers, {spec.model})", "device": args.device, "dtype": args.dtype,
        "concurrency": args.n_init,
        "prototype_decode_tps": round(proto, 1), "single_process_decode_tps": round(single, 1),
        "ratio": round(proto / single, 3) if single else None, "cpus": os.cpu_count(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
