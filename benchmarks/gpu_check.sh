#!/usr/bin/env bash
# GPU check, one command, about 5-8 minutes on one CUDA GPU, no internet, nothing outside the repo,
# torch and the project's dependencies:
#   (a) profile LLaMA-2-70B- and LLaMA-1-30B-shaped layers with the project's profiler
#       (`helix profile`) into profiles/measured/<gpu>/<model>/ (prompt.csv, decode.csv, meta.json);
#   (b) compare every measured point with the analytic prediction for that GPU
#       (helix.profiles.cost, fitted parameters if results/profiles/analytic_fit.json exists,
#       else the priors) -> <out>/analytic_vs_measured.csv and a summary line per model;
#   (c) run the prototype (host + 4 workers sharing the GPU) with 70B-shaped bf16 layers on the
#       8-layer test placement next to a single process, and set its decode tokens/s against what
#       the per-layer decode times just measured allow -> <out>/prototype.json.
#
#   bash benchmarks/gpu_check.sh                        # on the GPU machine, from the repo root
#   bash benchmarks/gpu_check.sh --device cpu --out-root /tmp/x   # tiny shapes, seconds: tests the script
#
# The model shapes are written here (public figures of the two models), so the check needs neither
# the reference artifact nor a model download.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
OUT_ROOT=profiles/measured
GPU=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --out-root) OUT_ROOT="$2"; shift 2 ;;
    --gpu) GPU="$2"; shift 2 ;;
    *) echo "error: unknown argument $1 (--device cuda|cpu, --out-root DIR, --gpu NAME)" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d -t helix-gpu-check-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

if [ "$DEVICE" = cuda ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "error: --device cuda but torch sees no GPU (use --device cpu to test the script)" >&2; exit 2; }
  if [ -z "$GPU" ]; then
    GPU="$("$PY" -c "import torch; n = torch.cuda.get_device_name(); print(n.replace('NVIDIA', '').split()[0])")"
  fi
  DTYPE=bfloat16
  GRID=(--prompt-tokens 128,256,512,1024,2048,4096 --decode-batches 1,2,4,8,16,32,64,128 --contexts 990 --warmup 3 --repeats 7)
  PROTO=(--device cuda --dtype bfloat16 --duration-s 20 --warmup-s 5 --rounds 1 --length-scale 0.25)
  ANALYTIC_GPU="$GPU"
  # LLaMA-2-70B and LLaMA-1-30B (public config.json figures)
  SHAPES="llama70b:8192:28672:80:64:8 llama30b:6656:17920:60:52:52"
else
  GPU="${GPU:-cpu}"
  DTYPE=float32
  GRID=(--prompt-tokens 16,32 --decode-batches 1,4 --contexts 32 --warmup 1 --repeats 3)
  PROTO=(--device cpu --dtype float32 --duration-s 3 --warmup-s 0.5 --rounds 1 --length-scale 0.03)
  ANALYTIC_GPU=A100  # a CPU has no analytic model: the step runs, its ratios mean nothing
  SHAPES="llama70b:128:256:80:4:2 llama30b:96:192:60:3:3"
fi
GPU_DIR="$(echo "$GPU" | tr '[:upper:]' '[:lower:]')"
echo "== gpu check: device=$DEVICE gpu=$GPU dtype=$DTYPE out=$OUT_ROOT/$GPU_DIR" >&2

for shape in $SHAPES; do
  IFS=: read -r name hidden inter layers heads kv <<<"$shape"
  cat >"$WORK/$name.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": $hidden,
 "intermediate_size": $inter, "num_hidden_layers": $layers, "num_attention_heads": $heads,
 "num_key_value_heads": $kv, "max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
 "vocab_size": 32000, "tie_word_embeddings": false, "torch_dtype": "float16"}
EOF
  echo "== (a) profile $name-shaped layer" >&2
  "$PY" -m helix.cli profile --model-config "$WORK/$name.json" --model "$name" --gpu "$GPU" \
    --out "$OUT_ROOT/$GPU_DIR/$name" --device "$DEVICE" --dtype "$DTYPE" "${GRID[@]}"
done

echo "== (b) measured vs analytic ($ANALYTIC_GPU)" >&2
"$PY" - "$OUT_ROOT/$GPU_DIR" "$ANALYTIC_GPU" "$WORK" <<'EOF'
import csv, json, sys
from pathlib import Path
from helix.models import load_hf_config
from helix.profiles.cost import FitParams, predict_time
from helix.profiles.store import read_project_table

root, gpu, work = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
fit = Path("results/profiles/analytic_fit.json")
params = FitParams(**json.loads(fit.read_text())["params"]) if fit.is_file() else FitParams()
rows = []
for model in ("llama70b", "llama30b"):
    spec = load_hf_config(work / f"{model}.json", model, dtype_bytes=2)
    # read as written (no monotonicity check: a noisy point is reported here, not refused)
    for phase in ("prompt", "decode"):
        table = read_project_table(root / model / f"{phase}.csv")
        for x, y in zip(table.tokens, table.seconds):
            if x <= 0:  # the tables' (0, 0) anchor row
                continue
            pred = predict_time(spec, gpu, phase, x, params)
            rows.append({"model": model, "phase": phase, "tokens": x, "measured_s": y, "analytic_s": pred,
                         "measured_over_analytic": y / pred if pred else None})
    r = [row["measured_over_analytic"] for row in rows if row["model"] == model and row["measured_over_analytic"]]
    r.sort()
    print(f"{model} on {gpu}: measured/analytic median {r[len(r) // 2]:.2f} (min {r[0]:.2f}, max {r[-1]:.2f}) over {len(r)} points;"
          f" fit: {'results/profiles/analytic_fit.json' if fit.is_file() else 'prior parameters (no fit file)'}")
with open(root / "analytic_vs_measured.csv", "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
EOF

echo "== (c) prototype with llama70b-shaped layers ($DTYPE, 8 layers, 4 workers on one device)" >&2
"$PY" benchmarks/prototype.py --shape-from "$WORK/llama70b.json" --layout branching --decode-batch 0 --single-threads 1 "${PROTO[@]}" >"$WORK/proto.json"
"$PY" - "$WORK/proto.json" "$OUT_ROOT/$GPU_DIR" <<'EOF'
import json, sys
from pathlib import Path
from helix.profiles.store import read_project_table

res = json.loads(Path(sys.argv[1]).read_text())
root = Path(sys.argv[2])
dec = read_project_table(root / "llama70b" / "decode.csv")
b = res["concurrency"]
# the measured decode time of one layer at the batch nearest the run's concurrency: with every token
# crossing 8 layers on one shared device, b / (8 * t(b)) tokens/s is what the layers alone allow
i = min((k for k in range(len(dec.tokens)) if dec.tokens[k] > 0), key=lambda k: abs(dec.tokens[k] - b))
t = dec.seconds[i]
bound = dec.tokens[i] / (8 * t)
res.update(layer_decode_s_at_batch={str(dec.tokens[i]): t}, layers_only_decode_tps=round(bound, 1),
           prototype_over_layers_only=round(res["prototype_decode_tps"] / bound, 3) if bound else None)
(root / "prototype.json").write_text(json.dumps(res, indent=2) + "\n")
print(f"prototype decode {res['prototype_decode_tps']} tok/s, single process {res['single_process_decode_tps']} tok/s "
      f"(ratio {res['ratio']}); measured layers alone allow {bound:.1f} tok/s at batch {dec.tokens[i]} "
      f"-> prototype/layers {res['prototype_over_layers_only']}")
EOF
echo "== done: $OUT_ROOT/$GPU_DIR/{llama70b,llama30b}/, analytic_vs_measured.csv, prototype.json" >&2
