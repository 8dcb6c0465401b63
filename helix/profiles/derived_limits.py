"""Engine limits and typical-throughput seeds of a (model, GPU) pair nobody measured, from first principles.

The paper's limits (``helix/data/engine_limits/<model>.yaml``) were read off vLLM runs on the
artifact's GPUs. For any other pair the same quantities follow from the model's shapes, its
per-layer parameter bytes and the machine's memory, by rules fitted by eye to docs/design/simulator.md s2.5:
K (layers that fit), B(k) (vLLM blocks of the KV cache), Dm(k) (decode batch) and R (prompt
requests per batch). Where the machine has no datasheet (a measured profile only), R is 1 and the
seed uses the measured decode time.
"""

from __future__ import annotations

from dataclasses import dataclass

from helix.errors import HelixInputError
from helix.models import ModelSpec
from helix.profiles.cost import DEFAULT_PARAMS, FitParams, kv_bytes_per_token, predict_time, weight_bytes
from helix.profiles.gpu_specs import GB, GpuSpec
from helix.profiles.limits import EngineLimits

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


def derived_limits(spec: ModelSpec, m: GpuSpec, *, source: str = "") -> EngineLimits:
    """EngineLimits of ``spec`` on machine ``m`` from the rules above; one-line error when nothing fits.

    ``m.peak_flops`` may be 0 (no datasheet): R is then 1.
    """
    K = min(analytic_k(spec, m), spec.num_layers)
    while K > 0 and analytic_blocks(spec, m, K) <= 0:
        K -= 1
    if K < 1:
        raise HelixInputError(
            source or None,
            f"gpus.{m.name}.vram_bytes",
            f"not even one layer of {spec.name} fits in this machine's memory",
            m.mem_bytes,
        )
    blocks = [analytic_blocks(spec, m, k) for k in range(1, K + 1)]
    dm = []
    for b in blocks:
        v = min(DM_CAP, int(16 * b / DM_CONTEXT) // 5 * 5)
        dm.append(max(5, min(v, dm[-1]) if dm else max(5, v)))
    R = max(1, min(3, int(m.peak_flops // R_FLOPS_PER_REQUEST)))
    return EngineLimits(spec.name, m.name, K, R, tuple(dm), tuple(blocks))


@dataclass(frozen=True)
class DerivedSeeds:
    layers_a: int
    layers_b: int
    performance_seed: float


def derived_seeds(
    spec: ModelSpec,
    m: GpuSpec,
    limits: EngineLimits,
    *,
    decode_100: float | None = None,
    params: FitParams = DEFAULT_PARAMS,
) -> DerivedSeeds:
    """Typical-throughput seeds (s2.6): A = round(0.65 K), B = K, seed = 0.2 / t_decode(100).

    t_decode(100) is predicted from the datasheet when ``m`` has one (peak_flops > 0), else
    ``decode_100`` (the measured profile's).
    """
    t100 = predict_time(spec, m, "decode", 100, params) if m.peak_flops > 0 else decode_100
    if not t100:
        raise HelixInputError(
            None, f"gpus.{m.name}", "neither datasheet fields nor a measured profile", m.name
        )
    return DerivedSeeds(max(1, round(0.65 * limits.K)), limits.K, 0.2 / t100)
