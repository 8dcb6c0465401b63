"""Hugging Face LLaMA-family checkpoints: only the tensors of a worker's layer range are read.

A checkpoint directory holds ``config.json``, the weights as ``*.safetensors`` (one
``model.safetensors`` or shards listed in ``model.safetensors.index.json``) and, for text,
``tokenizer.json``. A worker holding ``[start, end)`` needs the tensors of those layers, plus the
embedding if ``start == 0`` and the final norm and LM head if ``end == L`` (the embedding again
when the head is tied to it). ``Checkpoint.load`` opens only the shards that hold those tensors
and reads only them (``safetensors.safe_open`` maps the file and copies one tensor at a time), so a
worker's memory grows with its range, not with the model.

``Checkpoint.check`` reads only the shard headers (names, dtypes, shapes) and is run by the host
for every worker's range before any worker starts: a missing tensor, a shape that disagrees with
``config.json`` or a dtype outside bf16/fp16/fp32 is a one-line error naming the file and the
tensor, instead of a worker that dies half-loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from helix.errors import HelixInputError
from helix.prototype.model import DecoderLayer, LlamaConfig

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
EMBED, NORM, HEAD = "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"


def layer_tensor(i: int, ours: str) -> str:
    return f"model.layers.{i}.{DecoderLayer.HF_NAMES[ours]}"


class Checkpoint:
    """A checkpoint directory: its config, where each tensor lives, and range-wise loading."""

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        if not self.path.is_dir():
            raise HelixInputError(self.path, None, "checkpoint directory not found")
        cfg_path = self.path / "config.json"
        if not cfg_path.is_file():
            raise HelixInputError(cfg_path, None, "checkpoint has no config.json")
        self.config = LlamaConfig.from_json(cfg_path, name or self.path.name)
        index = self.path / INDEX
        if index.is_file():
            self.index_file = index
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise HelixInputError(
                    index, "weight_map", "not a safetensors index (needs a weight_map object)"
                ) from None
            if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
                raise HelixInputError(index, "weight_map", "must map tensor names to shard file names")
            self.weight_map = dict(weight_map)
        elif (self.path / SINGLE).is_file():
            self.index_file = self.path / SINGLE
            self.weight_map = {n: SINGLE for n in self._keys(self.path / SINGLE)}
        else:
            raise HelixInputError(
                self.path, None, f"no {INDEX} and no {SINGLE}: not a safetensors checkpoint"
            )

    @staticmethod
    def _keys(shard: Path) -> list[str]:
        from safetensors import safe_open

        try:
            with safe_open(str(shard), framework="pt") as f:
                return list(f.keys())
        except Exception as exc:  # safetensors raises its own error types for a bad header
            raise HelixInputError(shard, None, f"not a readable safetensors file: {exc}") from None

    # -- what a range needs --------------------------------------------------------------------
    def expected(self, start: int, end: int) -> dict[str, tuple[int, ...]]:
        """Tensor name -> shape (from config.json) that a worker holding [start, end) reads."""
        c = self.config
        if not 0 <= start < end <= c.num_layers:
            raise HelixInputError(
                self.path / "config.json",
                "num_hidden_layers",
                f"range [{start}, {end}) outside the model",
                c.num_layers,
            )
        shapes = DecoderLayer.shapes(c)
        out = {layer_tensor(i, k): shape for i in range(start, end) for k, shape in shapes.items()}
        vh = (c.vocab_size, c.hidden_size)
        if start == 0:
            out[EMBED] = vh
        if end == c.num_layers:
            out[NORM] = (c.hidden_size,)
            out[EMBED if c.tie_word_embeddings else HEAD] = vh
        return out

    def _shard_of(self, name: str) -> Path:
        shard = self.weight_map.get(name)
        if shard is None:
            raise HelixInputError(self.index_file, name, "tensor missing from the checkpoint")
        p = self.path / shard
        if not p.is_file() or p.parent.resolve() != self.path.resolve():
            raise HelixInputError(
                self.index_file, name, f"its shard {shard!r} is not a file of the checkpoint"
            )
        return p

    def _by_shard(self, names) -> dict[Path, list[str]]:
        groups: dict[Path, list[str]] = {}
        for n in names:
            groups.setdefault(self._shard_of(n), []).append(n)
        return groups

    def check(self, start: int, end: int) -> list[Path]:
        """Headers only: every tensor of [start, end) is there with the right shape and a supported
        dtype. Returns the shards the range opens."""
        from safetensors import safe_open

        want = self.expected(start, end)
        groups = self._by_shard(want)
        for shard, names in groups.items():
            try:
                f = safe_open(str(shard), framework="pt")
            except Exception as exc:
                raise HelixInputError(shard, None, f"not a readable safetensors file: {exc}") from None
            with f:
                have = set(f.keys())
                for n in names:
                    if n not in have:
                        raise HelixInputError(
                            shard, n, "tensor missing from its shard (the index says it is here)"
                        )
                    sl = f.get_slice(n)
                    dt, shape = sl.get_dtype(), tuple(sl.get_shape())
                    if dt not in ST_DTYPES:
                        raise HelixInputError(shard, n, "dtype not supported (bf16, fp16 or fp32)", dt)
                    if shape != want[n]:
                        raise HelixInputError(
                            shard,
                            n,
                            f"shape disagrees with config.json (expected {list(want[n])})",
                            list(shape),
                        )
        return sorted(groups)

    def load(self, start: int, end: int, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
        """The tensors of [start, end) (names as in the checkpoint), cast to ``dtype``, read from
        the shards that hold them and nothing else."""
        from safetensors import safe_open

        self.check(start, end)
        want = self.expected(start, end)
        out: dict[str, torch.Tensor] = {}
        self.opened: list[Path] = []
        for shard, names in self._by_shard(want).items():
            self.opened.append(shard)
            with safe_open(str(shard), framework="pt", device="cpu") as f:
                for n in names:
                    out[n] = f.get_tensor(n).to(dtype)
        return out

    def layer_weights(self, tensors: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        """Layer i's tensors under our parameter names (``DecoderLayer(weights=...)``)."""
        return {k: tensors[layer_tensor(i, k)] for k in DecoderLayer.HF_NAMES}

    def head_weight(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        return tensors[EMBED if self.config.tie_word_embeddings else HEAD]


def check_checkpoint_ranges(
    path: str | Path, ranges, num_layers: int | None = None, name: str | None = None
) -> Checkpoint:
    """Before any worker starts: every range's tensors are there, shaped as config.json says."""
    ck = Checkpoint(path, name)
    if num_layers is not None and ck.config.num_layers != num_layers:
        raise HelixInputError(
            ck.path / "config.json",
            "num_hidden_layers",
            f"the layout has {num_layers} layers",
            ck.config.num_layers,
        )
    for s, e in ranges:
        ck.check(s, e)
    return ck
