"""Per-(model, GPU) engine constants: max layers K, prompt batch R, decode batch Dm(k), vLLM blocks B(k).

The reference keeps these in code rather than data files (docs/design/simulator.md s2.5); here they are data,
``helix/data/engine_limits/<model>.yaml``, so measured limits for a new pair are a YAML edit. The same files
hold the seed tables of the typical-throughput estimate (s2.6), which are per model as well.
These are the paper's measured limits; ``helix.profiles.derived_limits`` derives them for every
other (model, GPU) pair and ``helix.profiles.entry`` picks one or the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from helix.errors import HelixInputError

VLLM_BLOCK_SIZE = 16  # tokens per vLLM KV block
MAX_INPUT_LEN = 2048  # prompt tokens per request slot (prompt_max_tokens = R * MAX_INPUT_LEN)
DECODE_PER_TOKEN_MAX_CONTEXT = 1000  # decode_max_context = 1000 * Dm(k)


@dataclass(frozen=True)
class EngineLimits:
    """Batch and memory limits of one GPU type running one model; lists are indexed k-1."""

    model: str
    gpu: str
    K: int
    R: int
    decode_max_tokens: tuple[int, ...]
    blocks: tuple[int, ...]

    def _check_k(self, k: int) -> int:
        if not 1 <= k <= self.K:
            raise HelixInputError(
                None, f"{self.model}/{self.gpu}", f"layer count must be in 1..K={self.K}", k
            )
        return k - 1

    @property
    def prompt_max_tokens(self) -> int:
        return self.R * MAX_INPUT_LEN

    def decode_max(self, k: int) -> int:
        """Dm(k): decode tokens per batch for a node holding k layers."""
        return self.decode_max_tokens[self._check_k(k)]

    def decode_max_context(self, k: int) -> int:
        return DECODE_PER_TOKEN_MAX_CONTEXT * self.decode_max(k)

    def block_count(self, k: int) -> int:
        return self.blocks[self._check_k(k)]

    def kv_capacity(self, k: int) -> int:
        """KV-cache slots (token x layer) of a node holding k layers: 16 * B(k) * k."""
        return VLLM_BLOCK_SIZE * self.block_count(k) * k


@dataclass(frozen=True)
class TypicalSeeds:
    """Seed tables of the typical-throughput estimate (docs/design/simulator.md s2.6), keyed by GPU type."""

    model: str
    num_layers: int
    layers_a: dict[str, int]
    layers_b: dict[str, int]
    performance_seed: dict[str, float]


def _data_path(model: str) -> Path:
    return Path(str(resources.files("helix") / "data" / "engine_limits" / f"{model}.yaml"))


@lru_cache(maxsize=None)
def _load(model: str) -> dict:
    path = _data_path(model)
    if not path.is_file():
        raise HelixInputError(
            path, "model", f"no engine limits for this model (known: {known_models()})", model
        )
    data = yaml.safe_load(path.read_text())
    _validate(path, data)
    return data


def known_model(model: str) -> bool:
    return _data_path(model).is_file()


def known_models() -> list[str]:
    root = _data_path("x").parent
    return sorted(p.stem for p in root.glob("*.yaml"))


def _validate(path: Path, data: dict) -> None:
    """Internal consistency: one entry per k, blocks strictly decreasing, Dm non-increasing."""
    for gpu, e in (data.get("gpus") or {}).items():
        K = e.get("K")
        for key in ("decode_max_tokens", "blocks"):
            if len(e.get(key) or []) != K:
                raise HelixInputError(
                    path, f"gpus.{gpu}.{key}", f"needs K={K} entries", len(e.get(key) or [])
                )
        b, d = e["blocks"], e["decode_max_tokens"]
        if any(y >= x for x, y in zip(b, b[1:])) or min(b) <= 0:
            raise HelixInputError(path, f"gpus.{gpu}.blocks", "must be positive and strictly decreasing", b)
        if any(y > x for x, y in zip(d, d[1:])) or min(d) <= 0:
            raise HelixInputError(
                path, f"gpus.{gpu}.decode_max_tokens", "must be positive and non-increasing", d
            )
        if e.get("R", 0) < 1:
            raise HelixInputError(path, f"gpus.{gpu}.R", "must be >= 1", e.get("R"))


def has_measured(model: str, gpu: str) -> bool:
    """Whether the data files hold the paper's limits of ``gpu`` running ``model``."""
    return _data_path(model).is_file() and gpu in (_load(model).get("gpus") or {})


def engine_limits(model: str, gpu: str) -> EngineLimits:
    """The paper's limits of ``gpu`` (config type name, e.g. ``L4x2``) running ``model`` (``llama70b``...).

    Only the measured data; ``helix.profiles.entry.ModelProfiles.limits`` derives the others.
    """
    data = _load(model)
    entry = (data.get("gpus") or {}).get(gpu)
    if entry is None:
        raise HelixInputError(
            _data_path(model),
            "gpus",
            f"no engine limits for GPU type {gpu!r} with model {model!r} "
            f"(known: {sorted(data.get('gpus') or {})})",
            gpu,
        )
    return EngineLimits(
        model,
        gpu,
        int(entry["K"]),
        int(entry["R"]),
        tuple(int(v) for v in entry["decode_max_tokens"]),
        tuple(int(v) for v in entry["blocks"]),
    )


def gpu_types(model: str) -> list[str]:
    """GPU types with limits for ``model``, in file order."""
    return list((_load(model).get("gpus") or {}))


def typical_seeds(model: str) -> TypicalSeeds:
    """The paper's seed tables of ``model`` (GPU types it measured)."""
    data = _load(model)
    t = data.get("typical") or {}
    return TypicalSeeds(
        model,
        int(data["num_layers"]),
        dict(t["layers_a"]),
        dict(t["layers_b"]),
        {k: float(v) for k, v in t["performance_seed"].items()},
    )


def data_file(model: str) -> str:
    """The data file of ``model``'s measured limits, relative to the package (for provenance)."""
    return f"helix/data/engine_limits/{model}.yaml"
