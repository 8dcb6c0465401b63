"""Datasheet figures of GPUs, and how multi-GPU boxes aggregate.

The analytic model (``helix.profiles.cost``) predicts a layer's time from its FLOPs and bytes
against these peaks, scaled by efficiencies fitted on measured profiles. Only vendor datasheet
numbers go here (dense, i.e. without 2:4 sparsity, fp16/bf16 tensor-core throughput with the
accumulate mode the frameworks use), and every "efficiency" lives in the fitted parameters, not in
this table. The table is the default for known types: a config's ``gpus.<type>`` entry may give or
override the same figures per GPU (``peak_flops``, ``mem_bandwidth``, ``interconnect_bandwidth``,
``nvlink``, ``tdp_w``), so a new GPU is a config edit (``machine_from_entry``).

Multi-GPU machines (the paper's L4x2, T4x2, T4x4) run one engine with tensor parallelism over all
their GPUs (vLLM ``tensor_parallel_size = num_gpus``). Rule used here (``machine_spec``): FLOP/s,
memory bandwidth and memory add up over the n GPUs (each GPU holds 1/n of every weight matrix and of
the KV heads), and each layer pays two all-reduces of the batch's activations (after the attention
output projection and after the MLP down projection), each moving the ring cost 2 (n-1)/n x bytes per
GPU. Over NVLink the all-reduce runs at a share of ``interconnect_bw``; over PCIe (the cloud L4 and
T4 boxes) it is staged through host memory, so its speed is a fitted absolute bandwidth rather than
the PCIe generation's figure (see ``helix.profiles.cost``).

``tdp_w`` separates the 70-75 W inference cards (L4, T4): under sustained tensor load their power
cap, not their clock, bounds throughput, so they get their own fitted compute efficiency.
"""

from __future__ import annotations

from dataclasses import dataclass

from helix.errors import HelixInputError

TFLOPS = 1e12
GBPS = 1e9  # bytes/s
GB = 1e9
LOW_POWER_TDP_W = 150.0


@dataclass(frozen=True)
class GpuSpec:
    """One GPU (or, from ``machine_spec``, one whole machine) in SI units."""

    name: str
    peak_flops: float  # dense fp16/bf16 tensor-core FLOP/s
    mem_bw: float  # bytes/s
    mem_bytes: float  # bytes
    interconnect_bw: float = 0.0  # bytes/s per direction between the GPUs of a box; 0 = single GPU
    tdp_w: float = 0.0  # board power of one GPU, watts
    nvlink: bool = False  # GPUs of a box talk over NVLink (else PCIe)
    num_gpus: int = 1
    source: str = ""

    @property
    def low_power(self) -> bool:
        """70-75 W single-slot inference cards: the power cap, not the clock, bounds tensor throughput."""
        return self.tdp_w <= LOW_POWER_TDP_W


# Single GPUs. Figures: vendor datasheets (URLs omitted; document names given).
_BASE: dict[str, GpuSpec] = {
    # NVIDIA A100 Tensor Core GPU datasheet (A100 40GB SXM): FP16/BF16 tensor 312 TFLOPS dense
    # (624 with sparsity), HBM2 1,555 GB/s, 40 GB; NVLink3 600 GB/s bidirectional; 400 W.
    "A100": GpuSpec(
        "A100",
        312 * TFLOPS,
        1555 * GBPS,
        40 * GB,
        300 * GBPS,
        400,
        True,
        source="NVIDIA A100 datasheet (40GB SXM4)",
    ),
    # NVIDIA V100 Tensor Core GPU datasheet (V100 SXM2 16GB, the cloud variant): tensor 125 TFLOPS,
    # HBM2 900 GB/s, 16 GB; NVLink2 300 GB/s bidirectional; 300 W.
    "V100": GpuSpec(
        "V100",
        125 * TFLOPS,
        900 * GBPS,
        16 * GB,
        150 * GBPS,
        300,
        True,
        source="NVIDIA V100 datasheet (SXM2 16GB)",
    ),
    # NVIDIA L4 Tensor Core GPU datasheet: FP16/BF16 tensor 242 TFLOPS with sparsity -> 121 dense,
    # GDDR6 300 GB/s, 24 GB; PCIe Gen4 x16 (64 GB/s bidirectional -> 32 per direction); 72 W.
    "L4": GpuSpec(
        "L4", 121 * TFLOPS, 300 * GBPS, 24 * GB, 32 * GBPS, 72, False, source="NVIDIA L4 datasheet"
    ),
    # NVIDIA T4 Tensor Core GPU datasheet: mixed-precision FP16/FP32 65 TFLOPS, GDDR6 320 GB/s,
    # 16 GB; PCIe Gen3 x16 (32 GB/s bidirectional -> 16 per direction); 70 W.
    "T4": GpuSpec("T4", 65 * TFLOPS, 320 * GBPS, 16 * GB, 16 * GBPS, 70, False, source="NVIDIA T4 datasheet"),
    # NVIDIA H100 Tensor Core GPU datasheet (H100 SXM5 80GB): BF16/FP16 tensor 1,979 TFLOPS with
    # sparsity -> 989.5 dense, HBM3 3.35 TB/s, 80 GB; NVLink4 900 GB/s bidirectional; 700 W.
    "H100": GpuSpec(
        "H100",
        989.5 * TFLOPS,
        3350 * GBPS,
        80 * GB,
        450 * GBPS,
        700,
        True,
        source="NVIDIA H100 datasheet (SXM5 80GB)",
    ),
    # NVIDIA H200 Tensor Core GPU datasheet (H200 SXM 141GB): BF16/FP16 tensor 1,979 TFLOPS with
    # sparsity -> 989.5 dense, HBM3e 4.8 TB/s, 141 GB; NVLink4 900 GB/s bidirectional; 700 W
    # (configurable up to 700 W).
    "H200": GpuSpec(
        "H200",
        989.5 * TFLOPS,
        4800 * GBPS,
        141 * GB,
        450 * GBPS,
        700,
        True,
        source="NVIDIA H200 datasheet (SXM 141GB)",
    ),
    # A GPU the paper never had. NVIDIA L40S datasheet: FP16/BF16 tensor 733 TFLOPS with sparsity
    # -> 366 dense, GDDR6 864 GB/s, 48 GB; PCIe Gen4 x16 (32 GB/s per direction); 350 W.
    "L40S": GpuSpec(
        "L40S", 366 * TFLOPS, 864 * GBPS, 48 * GB, 32 * GBPS, 350, False, source="NVIDIA L40S datasheet"
    ),
}

# Aliases: config names with the memory size spelled out map onto the base entries.
_ALIASES = {"A100-40G": "A100", "V100-16G": "V100", "H100-SXM": "H100", "H200-SXM": "H200"}

# Machines of several identical GPUs: config name -> (base GPU, count). Names like "L4x2" are also
# parsed generically ("<base>x<n>"), so "H100x8" works without an entry here.
_BOXES = {"L4x2": ("L4", 2), "T4x2": ("T4", 2), "T4x4": ("T4", 4)}


def known_gpus() -> list[str]:
    return sorted(set(_BASE) | set(_ALIASES) | set(_BOXES))


def _split(name: str) -> tuple[str, int]:
    if name in _BOXES:
        return _BOXES[name]
    base, sep, count = name.rpartition("x")
    if sep and count.isdigit() and int(count) >= 1 and (base in _BASE or base in _ALIASES):
        return base, int(count)
    return name, 1


def gpu_spec(name: str) -> GpuSpec:
    """Datasheet figures of one GPU (aliases allowed); one-line error when it is not in the table."""
    base = _ALIASES.get(name, name)
    if base not in _BASE:
        raise HelixInputError(
            "helix/profiles/gpu_specs.py",
            "gpu",
            f"GPU type not in the spec table (known: {known_gpus()})",
            name,
        )
    return _BASE[base]


def machine_spec(name: str) -> GpuSpec:
    """A machine type as one tensor-parallel engine (see the module docstring for the rule)."""
    base, n = _split(name)
    one = gpu_spec(base)
    if n == 1:
        return GpuSpec(
            name, one.peak_flops, one.mem_bw, one.mem_bytes, 0.0, one.tdp_w, one.nvlink, 1, one.source
        )
    return GpuSpec(
        name,
        n * one.peak_flops,
        n * one.mem_bw,
        n * one.mem_bytes,
        one.interconnect_bw,
        one.tdp_w,
        one.nvlink,
        n,
        f"{n} x {one.source}, tensor-parallel over {n}",
    )


# Config fields of a GPU type that describe one GPU's datasheet (``machine_from_entry``), and the
# defaults of the optional ones for a type the table does not know.
DATASHEET_FIELDS = ("peak_flops", "mem_bandwidth", "interconnect_bandwidth", "nvlink", "tdp_w")
REQUIRED_DATASHEET_FIELDS = ("peak_flops", "mem_bandwidth")
UNKNOWN_DEFAULTS = {"interconnect_bandwidth": 0.0, "nvlink": False, "tdp_w": 300.0}


def table_gpu(name: str) -> GpuSpec | None:
    """The table's single GPU behind machine type ``name`` (``L4x2`` -> L4), or None."""
    base, _ = _split(name)
    return _BASE.get(_ALIASES.get(base, base))


def _field(entry, key: str):
    return entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)


def machine_from_entry(name: str, entry) -> GpuSpec | None:
    """The machine of config type ``name`` as one tensor-parallel engine, or None without a datasheet.

    ``entry`` is the config's ``gpus.<name>`` (a mapping or the typed entry): fields given there
    (per GPU) win over the table's figures for the type's base GPU; ``num_gpus`` and ``vram_bytes``
    (the whole machine) come from the entry. None when ``peak_flops`` or ``mem_bandwidth`` is known
    from neither, i.e. a profile of this type cannot be predicted.
    """
    one = table_gpu(name)
    vals = dict(UNKNOWN_DEFAULTS)
    if one is not None:
        vals.update(
            peak_flops=one.peak_flops,
            mem_bandwidth=one.mem_bw,
            interconnect_bandwidth=one.interconnect_bw,
            nvlink=one.nvlink,
            tdp_w=one.tdp_w,
        )
    given = {k: _field(entry, k) for k in DATASHEET_FIELDS if _field(entry, k) is not None}
    vals.update(given)
    if any(vals.get(k) is None for k in REQUIRED_DATASHEET_FIELDS):
        return None
    n = int(_field(entry, "num_gpus") or 1)
    mem = _field(entry, "vram_bytes") or (n * one.mem_bytes if one else 0.0)
    if one is not None and not given:
        source = one.source
    else:
        source = f"config gpus.{name}" + (f" over {one.source}" if one is not None else "")
    if n == 1:
        return GpuSpec(
            name,
            float(vals["peak_flops"]),
            float(vals["mem_bandwidth"]),
            float(mem),
            0.0,
            float(vals["tdp_w"]),
            bool(vals["nvlink"]),
            1,
            source,
        )
    return GpuSpec(
        name,
        n * float(vals["peak_flops"]),
        n * float(vals["mem_bandwidth"]),
        float(mem),
        float(vals["interconnect_bandwidth"]),
        float(vals["tdp_w"]),
        bool(vals["nvlink"]),
        n,
        f"{n} x {source}, tensor-parallel over {n}",
    )
