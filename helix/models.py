"""Model specs derived from a Hugging Face ``config.json``.

Placement, simulation and the prototype need only a handful of shape numbers per model (layers,
hidden size, heads, KV heads, bytes per layer, bytes per token on the wire). Reading them from the
HF config lets a user add any LLaMA-like decoder by pointing at its config file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from helix.errors import HelixInputError

SUPPORTED_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    dtype_bytes: int = 2
    # The paper's simulator uses hand-set per-layer byte counts (1.53 GB for 70B, 1 GB for 30B);
    # when given they override the count computed from the shapes.
    param_bytes_per_layer_override: float | None = None
    # Bytes of a token id on source->node and node->sink links (docs/design/placement.md section 1).
    token_bytes: int = 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def params_per_layer(self) -> int:
        h, kv = self.hidden_size, self.num_kv_heads * self.head_dim
        attn = 2 * h * h + 2 * h * kv  # q, o and k, v projections
        mlp = 3 * h * self.intermediate_size  # gate, up, down
        norms = 2 * h
        return attn + mlp + norms

    @property
    def param_bytes_per_layer(self) -> float:
        if self.param_bytes_per_layer_override is not None:
            return float(self.param_bytes_per_layer_override)
        return float(self.params_per_layer * self.dtype_bytes)

    @property
    def activation_bytes_per_token(self) -> int:
        """Bytes of one token's hidden state sent between two compute nodes."""
        return self.hidden_size * self.dtype_bytes

    @property
    def kv_bytes_per_token_layer(self) -> int:
        """K and V for one token in one layer (GQA-aware)."""
        return 2 * self.num_kv_heads * self.head_dim * self.dtype_bytes


def load_hf_config(path: str | Path, name: str, **overrides) -> ModelSpec:
    """Build a ModelSpec from a HF config.json; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "model config.json not found")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HelixInputError(path, None, f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    mtype = cfg.get("model_type")
    if mtype not in SUPPORTED_MODEL_TYPES:
        raise HelixInputError(
            path,
            "model_type",
            f"not a decoder-only model the project understands {sorted(SUPPORTED_MODEL_TYPES)}",
            mtype,
        )

    def need(key: str) -> int:
        if key not in cfg:
            raise HelixInputError(path, key, "missing")
        val = cfg[key]
        if not isinstance(val, int) or val <= 0:
            raise HelixInputError(path, key, "must be a positive integer", val)
        return val

    heads = need("num_attention_heads")
    hidden = need("hidden_size")
    kv = cfg.get("num_key_value_heads") or heads
    if hidden % heads != 0:
        raise HelixInputError(path, "hidden_size", f"not divisible by num_attention_heads={heads}", hidden)
    if heads % kv != 0:
        raise HelixInputError(path, "num_key_value_heads", f"must divide num_attention_heads={heads}", kv)
    dtype = cfg.get("torch_dtype", "float16")
    dtype_bytes = {"float16": 2, "bfloat16": 2, "float32": 4}.get(dtype, 2)
    return ModelSpec(
        name=name,
        num_layers=need("num_hidden_layers"),
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv,
        intermediate_size=need("intermediate_size"),
        vocab_size=need("vocab_size"),
        dtype_bytes=overrides.pop("dtype_bytes", dtype_bytes),
        **overrides,
    )
