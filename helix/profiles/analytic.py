"""Analytic per-layer time: FLOPs and bytes of one decoder layer against a GPU's datasheet peaks.

Why: the paper can only simulate the (model, GPU) pairs its authors measured. A roofline-style model
with a handful of efficiencies fitted on those measurements predicts any pair with a spec-table
entry (``helix.profiles.gpu_specs``), and leave-one-GPU-type-out validation says how far to trust it.

Cost of one layer call on a batch (``layer_cost``), for a LLaMA-style layer (RMSNorm, RoPE, GQA
attention, SwiGLU MLP), h = hidden, kv = KV heads x head dim, I = intermediate, b = dtype bytes:
* GEMMs: FLOPs 2 N P_mat (P_mat = 2h^2 + 2h kv + 3hI); bytes = weights P_layer b + activations
  N b (in + out of every projection: 2h+2kv | 2h | h+2I | I+h  =  6h + 2kv + 3I).
* attention: decode (N sequences, one new token each, context c): FLOPs 4 N c h (QK^T and PV);
  bytes = KV cache read N c kvb + write N kvb, kvb = 2 kv b (GQA-aware). Prompt (N tokens in
  sequences of s = min(N, prompt_seq_len) tokens, causal): FLOPs 4 h (N/s) s(s+1)/2; bytes = KV
  write N kvb.
* elementwise (2 RMSNorms, RoPE, SwiGLU, 2 residual adds): bytes N b (4h + 2h+2kv... see code).
* tensor parallel (machines of n GPUs, rule in gpu_specs): 2 all-reduces of N h b bytes.

Time (``predict_time``) = t0 + sum over the three op groups of max(FLOPs / (eta_c P),
bytes / (eta_b BW)) + two all-reduces when the machine has n > 1 GPUs, each lat_ar + 2(n-1)/n N h b
/ bw, with bw = ``bw_pcie`` (fitted, host-staged PCIe) or ``ETA_NVLINK`` x the NVLink figure.
eta_c is ``eta_c`` for data-centre GPUs and ``eta_c_low`` for 70-75 W cards (gpu_specs docstring).
Fitted parameters (``FitParams``): eta_c, eta_c_low, eta_b, t0, bw_pcie, lat_ar — six numbers for
all GPUs and both models, fitted by scipy least squares on relative error (``fit``).

Decode context: the artifact's decode time does not depend on context length (simulator.md s2.4),
so its grid is batch size only; the model assumes every sequence in a decode batch has the typical
context ``DECODE_CONTEXT`` = 750 prompt + 240 output tokens = 990 (the simulator's AVG_INPUT_LEN +
AVG_OUTPUT_LEN). Prompt batches are taken as sequences of 750 tokens (AVG_INPUT_LEN).

Engine limits for a pair without a data entry (``analytic_limits``, registered with
``helix.profiles.limits`` as its fallback) follow documented rules fitted by eye to simulator.md s2.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from helix.errors import HelixInputError
from helix.models import ModelSpec
from helix.profiles.gpu_specs import GB, GpuSpec, machine_spec

PROMPT_SEQ_LEN = 750  # AVG_INPUT_LEN: prompt batches are made of sequences this long
DECODE_CONTEXT = 750 + 240  # AVG_INPUT_LEN + AVG_OUTPUT_LEN: typical context of a decode sequence
GPU_DTYPE_BYTES = 2  # fp16/bf16 weights, activations and KV cache on GPUs

# Grids of predicted profiles: the artifact's (simulator.md s2.4), wide enough for every batch limit.
PROMPT_GRID = tuple(range(0, 15000 + 1, 250))
DECODE_GRID = (0, *range(2, 21, 2), *range(25, 101, 5), *range(120, 1000 + 1, 20))

# Monotonicity check of measured input: a point more than this far below the running maximum is an
# error (catches swapped columns, wrong units, reversed files) while the artifact's measurement noise
# (e.g. llama2_70b/v100 decode 7.0 ms at 80 tokens, 4.5 ms at 90) passes.
MONOTONE_REL_TOL = 0.5


# ---- the layer's FLOPs and bytes ------------------------------------------------------------------


@dataclass(frozen=True)
class OpCost:
    flops: float
    bytes: float


@dataclass(frozen=True)
class LayerCost:
    """FLOPs and bytes moved by one layer call on a batch (whole layer, before tensor parallelism)."""

    gemm: OpCost
    attention: OpCost
    elementwise: OpCost
    allreduce_bytes: float  # payload of the two all-reduces (N h b); used only when n > 1
    rows: float = 0.0  # N, the GEMMs' M dimension

    @property
    def flops(self) -> float:
        return self.gemm.flops + self.attention.flops + self.elementwise.flops

    @property
    def bytes(self) -> float:
        return self.gemm.bytes + self.attention.bytes + self.elementwise.bytes


def _shape(spec: ModelSpec) -> tuple[int, int, int]:
    return spec.hidden_size, spec.num_kv_heads * spec.head_dim, spec.intermediate_size


def gemm_params(spec: ModelSpec) -> int:
    """Weights of the seven projection matrices (no norms): 2h^2 + 2h kv + 3hI."""
    h, kv, inter = _shape(spec)
    return 2 * h * h + 2 * h * kv + 3 * h * inter


def weight_bytes(spec: ModelSpec, dtype_bytes: int = GPU_DTYPE_BYTES) -> float:
    """All parameters of one layer (projections + two RMSNorm weights), from the shapes."""
    return float((gemm_params(spec) + 2 * spec.hidden_size) * dtype_bytes)


def kv_bytes_per_token(spec: ModelSpec, dtype_bytes: int = GPU_DTYPE_BYTES) -> float:
    """K and V of one token in one layer: 2 x KV heads x head dim x dtype (GQA-aware)."""
    return float(2 * spec.num_kv_heads * spec.head_dim * dtype_bytes)


def layer_cost(spec: ModelSpec, phase: str, tokens: float, *, context: int = DECODE_CONTEXT,
               prompt_seq_len: int = PROMPT_SEQ_LEN, dtype_bytes: int = GPU_DTYPE_BYTES) -> LayerCost:
    """FLOPs and bytes of one layer on a batch of ``tokens`` prompt or decode tokens (module doc)."""
    if phase not in ("prompt", "decode"):
        raise HelixInputError(None, "phase", "must be 'prompt' or 'decode'", phase)
    n = float(tokens)
    b = dtype_bytes
    h, kv, inter = _shape(spec)
    kvb = kv_bytes_per_token(spec, b)
    gemm = OpCost(2.0 * n * gemm_params(spec), weight_bytes(spec, b) + n * b * (6 * h + 2 * kv + 3 * inter))
    if phase == "decode":
        attn = OpCost(4.0 * n * context * h, n * context * kvb + n * kvb + 2 * n * h * b)
    else:
        s = min(n, float(prompt_seq_len)) if n > 0 else 0.0
        pairs = (n / s) * s * (s + 1) / 2 if s > 0 else 0.0
        attn = OpCost(4.0 * h * pairs, n * kvb + 2 * n * h * b)
    # RMSNorm x2 (read+write h each), RoPE on q and k (read+write), SwiGLU (read 2I, write I),
    # residual adds x2 (read 2h, write h each).
    elem_elems = 4 * h + 2 * (h + kv) + 3 * inter + 6 * h
    elementwise = OpCost(n * (8 * h + 3 * inter), n * b * elem_elems)
    return LayerCost(gemm, attn, elementwise, n * h * b, n)


# ---- the time model ---------------------------------------------------------------------------------


ETA_NVLINK = 0.7  # assumed share of NVLink bandwidth in all-reduces (no measured NVLink box to fit)


@dataclass(frozen=True)
class FitParams:
    """Efficiencies shared by every GPU and model (module doc)."""

    eta_c: float = 0.7  # achieved / peak tensor FLOP/s, data-centre GPUs
    eta_c_low: float = 0.45  # the same for 70-75 W cards
    eta_b: float = 0.8  # achieved / peak memory bandwidth
    t0: float = 2e-4  # seconds of fixed overhead per layer call (kernel launches, scheduling)
    bw_pcie: float = 4e9  # bytes/s of an all-reduce between PCIe GPUs of one box
    lat_ar: float = 5e-5  # seconds of latency per all-reduce
    n_half: float = 100.0  # batch rows at which a GEMM reaches half of eta_c (small-M tiles run idle)

    NAMES = ("eta_c", "eta_c_low", "eta_b", "t0", "bw_pcie", "lat_ar", "n_half")

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, k) for k in self.NAMES], dtype=float)

    @classmethod
    def from_vector(cls, v: Iterable[float]) -> "FitParams":
        return cls(**dict(zip(cls.NAMES, (float(x) for x in v))))

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.NAMES}


def _op_time(op: OpCost, m: GpuSpec, p: FitParams, rows: float | None = None) -> float:
    eta_c = p.eta_c_low if m.low_power else p.eta_c
    if rows is not None:
        eta_c *= rows / (rows + p.n_half)
    return max(op.flops / (eta_c * m.peak_flops), op.bytes / (p.eta_b * m.mem_bw))


def _time_from_cost(c: LayerCost, m: GpuSpec, p: FitParams) -> float:
    t = p.t0 + _op_time(c.gemm, m, p, c.rows) + _op_time(c.attention, m, p) + _op_time(c.elementwise, m, p)
    if m.num_gpus > 1:
        n = m.num_gpus
        bw = ETA_NVLINK * m.interconnect_bw if m.nvlink else p.bw_pcie
        t += 2 * (p.lat_ar + 2 * (n - 1) / n * c.allreduce_bytes / bw)
    return t


def predict_time(spec: ModelSpec, gpu: str | GpuSpec, phase: str, tokens: float,
                 params: FitParams, **cost_kw) -> float:
    """Seconds for one layer of ``spec`` on machine type ``gpu`` for a batch of ``tokens``."""
    if tokens <= 0:
        return 0.0
    m = gpu if isinstance(gpu, GpuSpec) else machine_spec(gpu)
    return _time_from_cost(layer_cost(spec, phase, tokens, **cost_kw), m, params)


def predict_times(spec: ModelSpec, gpu: str, phase: str, grid: Iterable[float], params: FitParams) -> np.ndarray:
    m = machine_spec(gpu)
    return np.array([predict_time(spec, m, phase, x, params) for x in grid])


# ---- measured input checks and the fit --------------------------------------------------------------


def check_times(source: str | Path | None, tokens: Iterable[float], seconds: Iterable[float],
                rel_tol: float = MONOTONE_REL_TOL) -> None:
    """Reject negative, non-finite or clearly non-monotone times with a one-line error."""
    run_max = 0.0
    for i, (x, y) in enumerate(zip(tokens, seconds)):
        if not math.isfinite(y) or y < 0:
            raise HelixInputError(source, f"row {i + 1}", "time must be a finite non-negative number", y)
        if y < (1 - rel_tol) * run_max:
            raise HelixInputError(source, f"row {i + 1}",
                                  f"times are not monotone in tokens ({y!r} s at {x} tokens after {run_max!r} s)", y)
        run_max = max(run_max, y)


def read_measured(directory: str | Path, model: str, gpu: str):
    """A measured profile directory (prompt.csv, decode.csv, meta.json) checked by ``check_times``.

    Used where a measurement enters the project's profiles (the what-if rule copies committed
    measurements); a garbled file fails here with the file, row and value.
    """
    import json

    from helix.profiles.store import LayerProfile, read_project_table

    d = Path(directory)
    tables = {}
    for phase in ("prompt", "decode"):
        table = read_project_table(d / f"{phase}.csv")
        check_times(d / f"{phase}.csv", table.tokens, table.seconds)
        tables[phase] = table
    meta_path = d / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HelixInputError(meta_path, None, f"unreadable meta.json: {exc}") from None
    if not isinstance(meta, dict) or meta.get("source") != "measured":
        raise HelixInputError(meta_path, "source", "a measured profile must say source: measured",
                              meta.get("source") if isinstance(meta, dict) else meta)
    meta = {k: v for k, v in meta.items() if k not in ("model", "gpu")}
    return LayerProfile(model, gpu, tables["prompt"], tables["decode"], meta)


@dataclass
class Sample:
    """Measured points of one (model, GPU, phase): what the fit sees."""

    model: str
    gpu: str
    phase: str
    tokens: np.ndarray
    seconds: np.ndarray


@dataclass
class FitResult:
    params: FitParams
    trained_on: list[str]  # "model/gpu" pairs
    n_points: int
    cost: float  # final least-squares cost
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"params": self.params.as_dict(), "trained_on": self.trained_on, "n_points": self.n_points,
                "cost": self.cost, "decode_context": DECODE_CONTEXT, "prompt_seq_len": PROMPT_SEQ_LEN, **self.extra}


def samples_from_store(store, models: Iterable[str], gpus: Iterable[str]) -> list[Sample]:
    """Every non-zero grid point of the stored profiles, checked by ``check_times``."""
    out = []
    for model in models:
        for gpu in gpus:
            prof = store.get(model, gpu)
            for phase in ("prompt", "decode"):
                table = getattr(prof, phase)
                check_times(table.path or f"{model}/{gpu}/{phase}", table.tokens, table.seconds)
                x = np.asarray(table.tokens[1:], dtype=float)
                y = np.asarray(table.seconds[1:], dtype=float)
                keep = y > 0
                out.append(Sample(model, gpu, phase, x[keep], y[keep]))
    return out


_LOWER = np.array([0.01, 0.01, 0.01, 0.0, 1e8, 0.0, 0.0])
_UPPER = np.array([1.0, 1.0, 1.0, 5e-3, 1e12, 5e-3, 2000.0])


def fit(samples: list[Sample], specs: Mapping[str, ModelSpec], start: FitParams | None = None) -> FitResult:
    """Least squares on relative error (pred / measured - 1) over every sample point.

    Each (model, GPU, phase) sample is weighted equally regardless of its grid length, so a long
    decode grid does not outvote a short prompt grid. Efficiencies are bounded to (0, 1].
    """
    from scipy.optimize import least_squares

    if not samples:
        raise HelixInputError(None, "samples", "nothing to fit: no measured profiles")
    for s in samples:
        if s.model not in specs:
            raise HelixInputError(None, "model", "no model spec for a measured profile", s.model)
    # Precompute costs once; the time model is cheap given them.
    prepared = []
    for s in samples:
        m = machine_spec(s.gpu)
        costs = [layer_cost(specs[s.model], s.phase, x) for x in s.tokens]
        prepared.append((m, costs, s.seconds, 1.0 / math.sqrt(len(s.tokens))))

    def residuals(v: np.ndarray) -> np.ndarray:
        p = FitParams.from_vector(v)
        out = []
        for m, costs, y, w in prepared:
            pred = np.array([_time_from_cost(c, m, p) for c in costs])
            out.append(w * (pred / y - 1.0))
        return np.concatenate(out)

    x0 = np.clip((start or FitParams()).vector(), _LOWER + 1e-9, _UPPER - 1e-9)
    res = least_squares(residuals, x0, bounds=(_LOWER, _UPPER), loss="soft_l1", f_scale=0.1, x_scale="jac")
    pairs = sorted({f"{s.model}/{s.gpu}" for s in samples})
    return FitResult(FitParams.from_vector(res.x), pairs, int(sum(len(s.tokens) for s in samples)), float(res.cost))


# ---- predicted profiles -----------------------------------------------------------------------------


def predicted_profile(spec: ModelSpec, model: str, gpu: str, params: FitParams,
                      prompt_grid: Iterable[int] = PROMPT_GRID, decode_grid: Iterable[int] = DECODE_GRID):
    """A ``LayerProfile`` (store format, seconds) predicted on the artifact's grids."""
    from helix.profiles.store import LayerProfile, ProfileTable

    machine_spec(gpu)  # one-line error for a GPU missing from the spec table
    tables = {}
    for phase, grid in (("prompt", tuple(prompt_grid)), ("decode", tuple(decode_grid))):
        ys = tuple(float(v) for v in predict_times(spec, gpu, phase, grid, params))
        check_times(f"predicted {model}/{gpu}/{phase}", grid, ys, rel_tol=0.0)
        tables[phase] = ProfileTable(grid, ys, f"predicted:{model}/{gpu}/{phase}")
    return LayerProfile(model, gpu, tables["prompt"], tables["decode"])


def write_predicted(out_dir: str | Path, spec: ModelSpec, model: str, gpu: str, fit_result: FitResult) -> Path:
    """Write a predicted profile directory with meta.json ``source: predicted`` and the fit."""
    from helix.profiles.store import write_profile

    prof = predicted_profile(spec, model, gpu, fit_result.params)
    m = machine_spec(gpu)
    meta = {
        "source": "predicted",
        "units": "seconds per layer",
        "method": "helix.profiles.analytic roofline (FLOPs and bytes vs datasheet peaks, fitted efficiencies)",
        "gpu_spec": {"peak_flops": m.peak_flops, "mem_bw": m.mem_bw, "mem_bytes": m.mem_bytes,
                     "num_gpus": m.num_gpus, "interconnect_bw": m.interconnect_bw, "source": m.source},
        "decode_context": DECODE_CONTEXT,
        "prompt_seq_len": PROMPT_SEQ_LEN,
        "fit": fit_result.as_dict(),
    }
    write_profile(out_dir, prof, meta)
    return Path(out_dir)


# ---- models the library knows by name ---------------------------------------------------------------

# Shapes from the HF config.json files of the artifact (the public model cards); the hand-set
# per-layer byte counts are the paper's (placement.md s1). Other models are registered by callers.
_MODELS: dict[str, ModelSpec] = {
    "llama70b": ModelSpec("llama70b", 80, 8192, 64, 8, 28672, 32000, 2, param_bytes_per_layer_override=1.53e9),
    "llama30b": ModelSpec("llama30b", 60, 6656, 52, 52, 17920, 32000, 2, param_bytes_per_layer_override=1.0e9),
}


def register_model(spec: ModelSpec) -> None:
    """Make a model known by name to the analytic engine-limits fallback."""
    _MODELS[spec.name] = spec


def model_spec(name: str) -> ModelSpec:
    if name not in _MODELS:
        raise HelixInputError(None, "model", f"model unknown to the analytic model (known: {sorted(_MODELS)})", name)
    return _MODELS[name]


# ---- engine limits for pairs without a data entry ---------------------------------------------------

USABLE_VRAM = 0.8  # share of VRAM vLLM gives to weights + KV cache (s2.5 B(k): 0.74-0.89, median ~0.8)
RESERVE_PER_GPU = 1 * GB  # per-GPU reserve in the K rule
DM_CAP = 480  # largest decode batch in the paper's tables
DM_CONTEXT = 900  # Dm(k) ~ KV slots per layer / 900 on the memory-limited tail of s2.5
R_FLOPS_PER_REQUEST = 100e12  # one 2048-token prompt slot per 100 TFLOP/s of peak, 1..3


def analytic_k(spec: ModelSpec, m: GpuSpec) -> int:
    """K: layers whose (paper-sized) weights fit in half the VRAM less 1 GB per GPU."""
    return max(0, int((m.mem_bytes / 2 - RESERVE_PER_GPU * m.num_gpus) // spec.param_bytes_per_layer))


def analytic_blocks(spec: ModelSpec, m: GpuSpec, k: int) -> int:
    """B(k): vLLM blocks of 16 tokens x k layers in 80 % of VRAM less k layers of weights."""
    free = USABLE_VRAM * m.mem_bytes - k * weight_bytes(spec)
    return int(free // (16 * kv_bytes_per_token(spec) * k))


@dataclass(frozen=True)
class AnalyticSeeds:
    layers_a: int
    layers_b: int
    performance_seed: float


def analytic_limits(model: str, gpu: str, spec: ModelSpec | None = None):
    """EngineLimits for ``(model, gpu)`` from the rules above; one-line error when nothing fits."""
    from helix.profiles.limits import EngineLimits

    spec = spec or model_spec(model)
    m = machine_spec(gpu)
    K = min(analytic_k(spec, m), spec.num_layers)
    while K > 0 and analytic_blocks(spec, m, K) <= 0:
        K -= 1
    if K < 1:
        raise HelixInputError(None, f"{model}/{gpu}", "not even one layer fits in this GPU's memory", m.mem_bytes)
    blocks = [analytic_blocks(spec, m, k) for k in range(1, K + 1)]
    dm = []
    for b in blocks:
        v = min(DM_CAP, int(16 * b / DM_CONTEXT) // 5 * 5)
        dm.append(max(5, min(v, dm[-1]) if dm else max(5, v)))
    R = max(1, min(3, int(m.peak_flops // R_FLOPS_PER_REQUEST)))
    return EngineLimits(model, gpu, K, R, tuple(dm), tuple(blocks))


def analytic_seeds(model: str, gpu: str, params: FitParams | None = None,
                   spec: ModelSpec | None = None) -> AnalyticSeeds:
    """Typical-throughput seeds (s2.6): A = round(0.65 K), B = K, seed = 0.2 / t_decode(100)."""
    spec = spec or model_spec(model)
    lim = analytic_limits(model, gpu, spec)
    t100 = predict_time(spec, gpu, "decode", 100, params or DEFAULT_PARAMS)
    return AnalyticSeeds(max(1, round(0.65 * lim.K)), lim.K, 0.2 / t100)


# Fitted on every artifact profile (both models, all seven types; ``fit_artifact``), rounded. Used where
# no fit file is given (engine-limit seeds, quick looks); tests/test_analytic.py refits and checks it.
DEFAULT_PARAMS = FitParams(eta_c=0.788, eta_c_low=0.458, eta_b=0.967, t0=2.80e-4, bw_pcie=4.04e9,
                           lat_ar=9.3e-5, n_half=110.3)


def fit_artifact(artifact_dir: str | Path, gpus: Iterable[str] | None = None) -> FitResult:
    """Fit on the artifact's measured profiles (both paper models) of ``gpus`` (default: all)."""
    from helix.profiles.store import ARTIFACT_GPU_TYPES, ProfileStore

    store = ProfileStore.from_artifact(artifact_dir)
    specs = {m: model_spec(m) for m in ("llama70b", "llama30b")}
    return fit(samples_from_store(store, specs, gpus or ARTIFACT_GPU_TYPES), specs)


# ---- leave-one-GPU-type-out validation ---------------------------------------------------------------

VALIDATION_COLUMNS = ("gpu", "model", "phase", "median_rel_err", "p90_rel_err", "n_points")


def leave_one_out(artifact_dir: str | Path, gpus: Iterable[str] | None = None,
                  models: Iterable[str] = ("llama70b", "llama30b")):
    """For each GPU type: fit on the other types (both models), predict this one.

    Returns (table, points): one row per (gpu, model, phase) with the median and 90th percentile
    of |pred / measured - 1| over the grid points (0-token row excluded); and every point
    (gpu, model, phase, tokens, measured_s, predicted_s) for the plot.
    """
    import pandas as pd

    from helix.profiles.store import ARTIFACT_GPU_TYPES, ProfileStore

    store = ProfileStore.from_artifact(artifact_dir)
    models = list(models)
    specs = {m: model_spec(m) for m in models}
    gpus = list(gpus or ARTIFACT_GPU_TYPES)
    if len(gpus) < 2:
        raise HelixInputError(None, "gpus", "leave-one-out needs at least two GPU types", gpus)
    samples = samples_from_store(store, models, gpus)
    rows, points = [], []
    for gpu in gpus:
        result = fit([s for s in samples if s.gpu != gpu], specs)
        for s in (s for s in samples if s.gpu == gpu):
            pred = predict_times(specs[s.model], s.gpu, s.phase, s.tokens, result.params)
            err = np.abs(pred / s.seconds - 1.0)
            rows.append({"gpu": gpu, "model": s.model, "phase": s.phase,
                         "median_rel_err": round(float(np.median(err)), 4),
                         "p90_rel_err": round(float(np.quantile(err, 0.9)), 4), "n_points": int(len(err))})
            points += [{"gpu": gpu, "model": s.model, "phase": s.phase, "tokens": int(x),
                        "measured_s": float(y), "predicted_s": float(p)}
                       for x, y, p in zip(s.tokens, s.seconds, pred)]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS)), pd.DataFrame(points)


def plot_validation(points, out_paths: Iterable[str | Path]) -> None:
    """Predicted vs measured per-layer time, one panel per GPU type, log-log, y = x dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helix.io import atomic_path

    gpus = list(dict.fromkeys(points["gpu"]))
    cols = min(4, len(gpus))
    rows = math.ceil(len(gpus) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    markers = {"prompt": "o", "decode": "s"}
    colors = {"llama70b": "tab:blue", "llama30b": "tab:orange"}
    for ax, gpu in zip(axes.flat, gpus):
        sub = points[points["gpu"] == gpu]
        for (model, phase), g in sub.groupby(["model", "phase"], sort=False):
            ax.scatter(g["measured_s"] * 1e3, g["predicted_s"] * 1e3, s=8, marker=markers.get(phase, "o"),
                       color=colors.get(model), alpha=0.7, label=f"{model} {phase}")
        lo = max(1e-2, float(min(sub["measured_s"].min(), sub["predicted_s"].min()) * 1e3 * 0.8))
        hi = float(max(sub["measured_s"].max(), sub["predicted_s"].max()) * 1e3 * 1.25)
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{gpu} (left out)", fontsize=9)
        ax.set_xlabel("measured time per layer (ms)", fontsize=8)
        ax.set_ylabel("predicted time per layer (ms)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(gpus):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Analytic profile model, leave-one-GPU-type-out", fontsize=10)
    fig.tight_layout()
    for path in out_paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120,
                        metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    plt.close(fig)


def _limits_fallback(model: str, gpu: str):
    if model not in _MODELS:
        return None
    try:
        machine_spec(gpu)
    except HelixInputError:
        return None
    return analytic_limits(model, gpu)


def _seeds_fallback(model: str, gpu: str):
    if _limits_fallback(model, gpu) is None:
        return None
    s = analytic_seeds(model, gpu)
    return s.layers_a, s.layers_b, s.performance_seed


def _register() -> None:
    from helix.profiles import limits

    limits.register_fallback(_limits_fallback, _seeds_fallback)


_register()
