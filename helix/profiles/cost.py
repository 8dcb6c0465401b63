"""Analytic per-layer time: FLOPs and bytes of one decoder layer against a GPU's datasheet peaks.

Why: the paper can only simulate the (model, GPU) pairs its authors measured. A roofline-style model
with a handful of efficiencies fitted on those measurements (``helix.profiles.fit``) predicts any
pair whose GPU has datasheet figures (config ``gpus.<type>.peak_flops`` / ``mem_bandwidth``, or the
built-in table ``helix.profiles.gpu_specs`` for known types).

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
Fitted parameters (``FitParams``): eta_c, eta_c_low, eta_b, t0, bw_pcie, lat_ar, n_half.

Decode context: the artifact's decode time does not depend on context length (docs/design/simulator.md s2.4),
so its grid is batch size only; the model assumes every sequence in a decode batch has the typical
context ``DECODE_CONTEXT`` = 750 prompt + 240 output tokens = 990 (the simulator's AVG_INPUT_LEN +
AVG_OUTPUT_LEN). Prompt batches are taken as sequences of 750 tokens (AVG_INPUT_LEN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from helix.errors import HelixInputError
from helix.models import ModelSpec
from helix.profiles.gpu_specs import GpuSpec, machine_spec

PROMPT_SEQ_LEN = 750  # AVG_INPUT_LEN: prompt batches are made of sequences this long
DECODE_CONTEXT = 750 + 240  # AVG_INPUT_LEN + AVG_OUTPUT_LEN: typical context of a decode sequence
GPU_DTYPE_BYTES = 2  # fp16/bf16 weights, activations and KV cache on GPUs

# Grids of predicted profiles: the artifact's (docs/design/simulator.md s2.4), wide enough for every batch
# limit.
PROMPT_GRID = tuple(range(0, 15000 + 1, 250))
DECODE_GRID = (0, *range(2, 21, 2), *range(25, 101, 5), *range(120, 1000 + 1, 20))


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


def layer_cost(
    spec: ModelSpec,
    phase: str,
    tokens: float,
    *,
    context: int = DECODE_CONTEXT,
    prompt_seq_len: int = PROMPT_SEQ_LEN,
    dtype_bytes: int = GPU_DTYPE_BYTES,
) -> LayerCost:
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


def time_from_cost(c: LayerCost, m: GpuSpec, p: FitParams) -> float:
    t = p.t0 + _op_time(c.gemm, m, p, c.rows) + _op_time(c.attention, m, p) + _op_time(c.elementwise, m, p)
    if m.num_gpus > 1:
        n = m.num_gpus
        bw = ETA_NVLINK * m.interconnect_bw if m.nvlink else p.bw_pcie
        t += 2 * (p.lat_ar + 2 * (n - 1) / n * c.allreduce_bytes / bw)
    return t


def predict_time(
    spec: ModelSpec, gpu: str | GpuSpec, phase: str, tokens: float, params: FitParams, **cost_kw
) -> float:
    """Seconds for one layer of ``spec`` on machine type ``gpu`` for a batch of ``tokens``."""
    if tokens <= 0:
        return 0.0
    m = gpu if isinstance(gpu, GpuSpec) else machine_spec(gpu)
    return time_from_cost(layer_cost(spec, phase, tokens, **cost_kw), m, params)


def predict_times(
    spec: ModelSpec, gpu: str | GpuSpec, phase: str, grid: Iterable[float], params: FitParams
) -> np.ndarray:
    m = gpu if isinstance(gpu, GpuSpec) else machine_spec(gpu)
    return np.array([predict_time(spec, m, phase, x, params) for x in grid])


# Fitted on every artifact profile (both models, all seven types; ``helix.profiles.fit.fit_artifact``),
# rounded. Used where no fit file is given (engine-limit seeds, quick looks); tests/test_analytic.py
# refits and checks it.
DEFAULT_PARAMS = FitParams(
    eta_c=0.788, eta_c_low=0.458, eta_b=0.967, t0=2.80e-4, bw_pcie=4.04e9, lat_ar=9.3e-5, n_half=110.3
)
