"""A LLaMA-architecture decoder written with plain torch, split into per-layer pieces.

Why our own code instead of ``transformers``: a Helix worker holds an arbitrary contiguous layer
range and may be asked to run any suffix of it for a given request, with one KV cache per
(request, layer) that never moves. Owning the ~150 lines of RMSNorm / RoPE / GQA attention / SwiGLU
keeps that exact (no hidden caches, no version drift) and needs no extra dependency.

Weights come from a Hugging Face checkpoint (``helix.prototype.checkpoint``: only the tensors of
the held range are read) or, by default, are random and **seeded per layer** (``layer_seed``),
drawn on the target device, so every worker on the same kind of device that holds layer l builds
bit-identical weights for it, whatever else it holds; the embedding and the LM head have their own
seeds. That is what makes the distributed run comparable token-for-token with a single-process run
of the whole model (``Reference``), and a checkpoint run with ``transformers``' LlamaForCausalLM
(tests/test_proto_checkpoint.py).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from helix.errors import HelixInputError
from helix.models import load_hf_config


@dataclass(frozen=True)
class LlamaConfig:
    name: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position: int = 4096
    head_dim: int = 0  # 0: hidden_size // num_heads
    tie_word_embeddings: bool = False
    eos_token_ids: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.head_dim:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_heads)

    @classmethod
    def from_json(cls, path: str | Path, name: str | None = None) -> "LlamaConfig":
        """Read a HF config.json (shape checks shared with ``helix.models``)."""
        path = Path(path)
        spec = load_hf_config(path, name or path.stem)
        raw = json.loads(path.read_text())
        rope = raw.get("rope_parameters") or raw.get("rope_scaling") or {}
        if not isinstance(rope, dict):
            raise HelixInputError(path, "rope_parameters", "must be a mapping", rope)
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in ("default", None):
            raise HelixInputError(
                path,
                "rope_parameters.rope_type",
                "only the default rotary embedding is implemented",
                rope_type,
            )
        if "rope_theta" not in raw and "rope_theta" in rope:
            raw["rope_theta"] = rope["rope_theta"]
        for key in ("rms_norm_eps", "rope_theta"):
            val = raw.get(key)
            if val is not None and (not isinstance(val, (int, float)) or isinstance(val, bool) or val <= 0):
                raise HelixInputError(path, key, "must be a positive number", val)
        for key in ("attention_bias", "mlp_bias"):
            if raw.get(key):
                raise HelixInputError(path, key, "biases are not implemented (LLaMA has none)", raw[key])
        act = raw.get("hidden_act", "silu")
        if act != "silu":
            raise HelixInputError(path, "hidden_act", "only silu (LLaMA's SwiGLU) is implemented", act)
        head_dim = raw.get("head_dim") or spec.hidden_size // spec.num_heads
        if not isinstance(head_dim, int) or head_dim <= 0 or head_dim % 2:
            raise HelixInputError(path, "head_dim", "must be a positive even integer", head_dim)
        eos = _eos_ids(path.parent / "generation_config.json") or _eos_ids(path)
        return cls(
            name=spec.name,
            num_layers=spec.num_layers,
            hidden_size=spec.hidden_size,
            intermediate_size=spec.intermediate_size,
            num_heads=spec.num_heads,
            num_kv_heads=spec.num_kv_heads,
            vocab_size=spec.vocab_size,
            rms_norm_eps=float(raw.get("rms_norm_eps") or 1e-5),
            rope_theta=float(raw.get("rope_theta") or 10000.0),
            max_position=int(raw.get("max_position_embeddings") or 4096),
            head_dim=head_dim,
            tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
            eos_token_ids=eos,
        )

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["eos_token_ids"] = list(self.eos_token_ids)
        return d


def _eos_ids(path: Path) -> tuple[int, ...]:
    """eos_token_id of a config.json / generation_config.json (an int or a list), () if none."""
    if not path.is_file():
        return ()
    try:
        raw = json.loads(path.read_text()).get("eos_token_id")
    except (json.JSONDecodeError, AttributeError):
        raise HelixInputError(path, None, "not a JSON object") from None
    vals = raw if isinstance(raw, list) else [] if raw is None else [raw]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals):
        raise HelixInputError(path, "eos_token_id", "must be a token id or a list of them", raw)
    return tuple(vals)


# Seeds: one stream per layer, one for the embedding, one for the head (see module docstring).
_EMBED, _HEAD = 1_000_000, 1_000_001


def layer_seed(seed: int, index: int) -> int:
    return (int(seed) * 1_000_003 + index) % (2**63 - 1)


def _randn(shape, seed: int, std: float, device="cpu") -> torch.Tensor:
    """Seeded normal weights drawn on ``device`` (CUDA draws differ from CPU draws, but every
    process on the same kind of device gets the same numbers; drawing 70B-sized layers on the
    CPU would take minutes)."""
    g = torch.Generator(device=device).manual_seed(int(seed) % (2**63 - 1))
    return torch.randn(*shape, generator=g, dtype=torch.float32, device=device) * std


# oneDNN's fp32 product with a weight packed once into its blocked layout (what torch's inductor
# uses on CPU after freezing). For the few rows of a decode batch, MKL's sgemm behind F.linear
# re-packs the whole weight on every call: on the 2-core development machine a 3-row product with a
# 256 x 1376 weight not in cache costs ~120 us with F.linear and ~60 us packed, 1-8 rows cost about
# the same packed (the weight read dominates), and each row's result does not depend on the other
# rows of the batch (MKL's does), so a request's numbers are the same whatever it is batched with.
# CPU and fp32 only; HELIX_PACKED_LINEAR=0 turns it off (F.linear everywhere, as before).
PACKED_LINEAR = (
    os.environ.get("HELIX_PACKED_LINEAR", "1") != "0"
    and torch.backends.mkldnn.is_available()
    and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    and hasattr(torch.ops.mkldnn, "_linear_pointwise")
)


def pack_weight(w: torch.Tensor) -> torch.Tensor | None:
    """``w`` [out, in] packed for ``linear`` where that pays (fp32 on CPU), else None."""
    if not PACKED_LINEAR or w.device.type != "cpu" or w.dtype != torch.float32:
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(w.detach())
    except RuntimeError:  # a build without oneDNN's fp32 matmul: the plain product
        return None


def linear(x: torch.Tensor, w: torch.Tensor, packed: torch.Tensor | None) -> torch.Tensor:
    """x @ w.T, with the packed weight when there is one."""
    if packed is None or x.dtype != torch.float32 or x.device.type != "cpu":
        return F.linear(x, w)
    return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")


class RMSNorm(torch.nn.Module):
    def __init__(self, hidden: int, eps: float):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(hidden), requires_grad=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # HF LlamaRMSNorm's order of operations: normalise in fp32, cast back, then scale. In fp32
        # that is torch's fused rms_norm (one op instead of six: the decode path is op-bound on CPU).
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


_ROPE: dict = {}


def rope_table(head_dim: int, theta: float, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [>= n, head_dim] (fp32) of positions 0.., computed once per process and grown on
    demand: every layer and every step indexes it instead of recomputing the angles (half of a
    decode step's small-op overhead on CPU before). Same float operations as HF's rotary embedding."""
    key = (head_dim, float(theta), str(device))
    cos, sin = _ROPE.get(key, (None, None))
    if cos is None or cos.shape[0] < n:
        size = max(n, 256, 2 * (cos.shape[0] if cos is not None else 0))
        inv = 1.0 / (
            theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).float() / head_dim)
        )
        ang = torch.arange(size, device=device, dtype=torch.float32)[:, None] * inv[None, :]
        emb = torch.cat([ang, ang], -1)
        cos, sin = emb.cos(), emb.sin()
        _ROPE[key] = (cos, sin)
    return cos, sin


def rope_at(cfg: "LlamaConfig", pos: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [T, 1, d] of positions ``pos`` in ``dtype`` (HF casts them to the activations' dtype)."""
    cos, sin = rope_table(cfg.head_dim, cfg.rope_theta, int(pos.max()) + 1 if pos.numel() else 1, pos.device)
    return cos[pos].to(dtype)[:, None, :], sin[pos].to(dtype)[:, None, :]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """LLaMA's rotate-half rotary embedding. x: [T, heads, d]; cos/sin: [T, 1, d]."""
    d2 = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., d2:], x[..., :d2]], -1) * sin


def rope(x: torch.Tensor, pos: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary embedding of x [T, heads, d] at positions pos [T] (kept for callers outside the layer)."""
    cos, sin = rope_table(x.shape[-1], theta, int(pos.max()) + 1, x.device)
    return apply_rope(x, cos[pos].to(x.dtype)[:, None, :], sin[pos].to(x.dtype)[:, None, :])


class DecodeBatch:
    """What every layer of one decode batch shares: rotary cos/sin of each request's position,
    the cache lengths and the padding mask. Built once per batch, not once per layer."""

    def __init__(self, cfg: "LlamaConfig", pos: torch.Tensor, dtype):
        self.pos = pos
        self.lens = [int(p) + 1 for p in pos.tolist()]
        self.cos, self.sin = rope_at(cfg, pos, dtype)
        self.m = max(self.lens)
        self.mask = None
        if len(self.lens) > 1 and min(self.lens) != self.m:
            lens = torch.tensor(self.lens, device=pos.device)
            self.mask = (torch.arange(self.m, device=pos.device)[None, :] < lens[:, None])[:, None, None, :]


class DecoderLayer(torch.nn.Module):
    """One LLaMA block: x + attn(norm(x)), then + mlp(norm(.)). The residual stays in the output,
    so one [tokens, hidden] tensor is the whole inter-stage payload (docs/design/prototype.md s9a)."""

    # our parameter -> the tensor of a HF LLaMA checkpoint (under model.layers.{i}.)
    HF_NAMES = {
        "wq": "self_attn.q_proj.weight",
        "wk": "self_attn.k_proj.weight",
        "wv": "self_attn.v_proj.weight",
        "wo": "self_attn.o_proj.weight",
        "w_gate": "mlp.gate_proj.weight",
        "w_up": "mlp.up_proj.weight",
        "w_down": "mlp.down_proj.weight",
        "attn_norm.weight": "input_layernorm.weight",
        "mlp_norm.weight": "post_attention_layernorm.weight",
    }

    @staticmethod
    def shapes(cfg: LlamaConfig) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter (HF's [out, in] convention), for checkpoint checks."""
        h, q, kv, ff = (
            cfg.hidden_size,
            cfg.num_heads * cfg.head_dim,
            cfg.num_kv_heads * cfg.head_dim,
            cfg.intermediate_size,
        )
        return {
            "wq": (q, h),
            "wk": (kv, h),
            "wv": (kv, h),
            "wo": (h, q),
            "w_gate": (ff, h),
            "w_up": (ff, h),
            "w_down": (h, ff),
            "attn_norm.weight": (h,),
            "mlp_norm.weight": (h,),
        }

    def __init__(self, cfg: LlamaConfig, index: int, seed: int, device="cpu", weights: dict | None = None):
        super().__init__()
        self.cfg, self.index = cfg, index
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp_norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        shapes = self.shapes(cfg)
        s = layer_seed(seed, index)
        for k, name in enumerate(("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down")):
            shape = shapes[name]
            if weights is not None:
                w = weights[name].to(device)
            else:  # std 1/sqrt(fan_in): activations keep their scale, so greedy argmax has clear margins.
                w = _randn(shape, s * 8 + k, 1 / math.sqrt(shape[1]), device)
            setattr(self, name, torch.nn.Parameter(w, requires_grad=False))
        if weights is not None:
            self.attn_norm.weight.data = weights["attn_norm.weight"].to(device)
            self.mlp_norm.weight.data = weights["mlp_norm.weight"].to(device)

    def _fused(self) -> tuple[torch.Tensor, torch.Tensor]:
        """[wq; wk; wv] and [w_gate; w_up] as single matrices (two matrix products instead of five
        per layer), built once after the module reached its device/dtype; the separate parameters
        become views into them, so no weight is stored twice. Every matrix is stored transposed
        ([in, out] in memory, an [out, in] view as HF's layout): for the few rows of a decode batch
        MKL's product with the weight in that order costs 20-35 % less on CPU (a plain product,
        not x times a transposed operand, measured on the 2-core EPYC development machine)."""
        f = getattr(self, "_fw", None)
        if f is None or f[0].data_ptr() != self.wq.data_ptr() or f[1].data_ptr() != self.w_gate.data_ptr():
            qkv = torch.cat([self.wq.data, self.wk.data, self.wv.data]).t().contiguous().t()
            gu = torch.cat([self.w_gate.data, self.w_up.data]).t().contiguous().t()
            nq, nk, ff = self.wq.shape[0], self.wk.shape[0], self.w_gate.shape[0]
            self.wq.data, self.wk.data, self.wv.data = qkv[:nq], qkv[nq : nq + nk], qkv[nq + nk :]
            self.w_gate.data, self.w_up.data = gu[:ff], gu[ff:]
            self.wo.data = self.wo.data.t().contiguous().t()
            self.w_down.data = self.w_down.data.t().contiguous().t()
            f = self._fw = (qkv, gu)
            # packed copies for ``linear`` (None off CPU/fp32): qkv, wo, gate|up, down
            self._pw = tuple(pack_weight(w) for w in (qkv, self.wo.data, gu, self.w_down.data))
        return f

    def qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor | None = None):
        """q, k (rotated) and v of x [T, h]; ``qkv(x, pos)`` computes the rotary angles of positions
        ``pos`` itself (what helix.profiles.profiler calls)."""
        c = self.cfg
        if sin is None:
            cos, sin = rope_at(c, cos, x.dtype)
        w_qkv, _ = self._fused()
        nq, nk = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        y = linear(self.attn_norm.forward(x), w_qkv, self._pw[0])  # .forward: no module-call overhead
        qk = apply_rope(
            y[:, : nq + nk].view(-1, c.num_heads + c.num_kv_heads, c.head_dim), cos, sin
        )  # q and k at once
        v = y[:, nq + nk :].view(-1, c.num_kv_heads, c.head_dim)
        return qk[:, : c.num_heads], qk[:, c.num_heads :], v

    def finish(self, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """The rest of the block after attention (always called after ``qkv``, which fused the weights)."""
        w_gu, pw = self._fw[1], self._pw
        x = x + linear(attn.reshape(x.shape[0], -1), self.wo, pw[1])
        gu = linear(self.mlp_norm.forward(x), w_gu, pw[2])
        ff = self.cfg.intermediate_size
        return x + linear(F.silu(gu[:, :ff]) * gu[:, ff:], self.w_down, pw[3])

    def forward_prompt(self, x: torch.Tensor, cache: "LayerCache") -> torch.Tensor:
        """x: [n, h], the whole prompt of one request starting at position 0 (causal)."""
        n = x.shape[0]
        cos, sin = rope_at(self.cfg, torch.arange(n, device=x.device), x.dtype)
        q, k, v = self.qkv(x, cos, sin)
        cache.write(0, k, v)
        out = F.scaled_dot_product_attention(
            q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), is_causal=True, enable_gqa=True
        )
        return self.finish(x, out.transpose(0, 1))

    def forward_decode(
        self,
        x: torch.Tensor,
        caches: list["LayerCache"],
        pos: torch.Tensor | None = None,
        batch: DecodeBatch | None = None,
    ) -> torch.Tensor:
        """x: [B, h], one new token per request at positions ``pos`` (or a prepared ``batch``);
        batched with a padding mask when the requests' lengths differ."""
        if batch is None:
            batch = DecodeBatch(self.cfg, pos, x.dtype)
        q, k, v = self.qkv(x, batch.cos, batch.sin)
        lens = batch.lens
        for i, c in enumerate(caches):
            c.write(lens[i] - 1, k[i : i + 1], v[i : i + 1])
        if len(caches) == 1:
            kk, vv = caches[0].view(lens[0])
            kk, vv = kk.transpose(0, 1)[None], vv.transpose(0, 1)[None]  # [1, kvh, m, d]
        else:
            kvs = [c.padded(batch.m) for c in caches]
            kk = torch.stack([kv[0] for kv in kvs]).transpose(1, 2)  # [B, kvh, m, d]
            vv = torch.stack([kv[1] for kv in kvs]).transpose(1, 2)
        out = F.scaled_dot_product_attention(q[:, :, None, :], kk, vv, attn_mask=batch.mask, enable_gqa=True)
        return self.finish(x, out.reshape(x.shape[0], -1))


class LayerCache:
    """K/V of one (request, layer), preallocated to the request's final length; it never moves."""

    def __init__(self, cfg: LlamaConfig, capacity: int, device, dtype):
        shape = (capacity, cfg.num_kv_heads, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0

    def write(self, at: int, k: torch.Tensor, v: torch.Tensor) -> None:
        n = k.shape[0]
        if at + n > self.k.shape[0]:
            raise RuntimeError(f"KV cache overflow: {at + n} > capacity {self.k.shape[0]}")
        self.k[at : at + n] = k
        self.v[at : at + n] = v
        self.length = at + n

    def view(self, n: int):
        return self.k[:n], self.v[:n]

    def padded(self, m: int):
        if self.k.shape[0] >= m:
            return self.k[:m], self.v[:m]
        pad = m - self.k.shape[0]
        z = torch.zeros((pad,) + tuple(self.k.shape[1:]), device=self.k.device, dtype=self.k.dtype)
        return torch.cat([self.k, z]), torch.cat([self.v, z])


class Embedding(torch.nn.Module):
    def __init__(self, cfg: LlamaConfig, seed: int, device="cpu", weight: torch.Tensor | None = None):
        super().__init__()
        if weight is not None:
            w = weight.to(device)
        else:
            w = _randn((cfg.vocab_size, cfg.hidden_size), layer_seed(seed, _EMBED), 1.0, device)
        self.weight = torch.nn.Parameter(w, requires_grad=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids.long(), self.weight)


class Head(torch.nn.Module):
    """Final RMSNorm + LM head + greedy sampling (argmax), on the worker whose range ends at L."""

    def __init__(
        self,
        cfg: LlamaConfig,
        seed: int,
        device="cpu",
        weight: torch.Tensor | None = None,
        norm: torch.Tensor | None = None,
    ):
        super().__init__()
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        if norm is not None:
            self.norm.weight.data = norm.to(device)
        if weight is not None:
            w = weight.to(device)
        else:
            w = _randn(
                (cfg.vocab_size, cfg.hidden_size),
                layer_seed(seed, _HEAD),
                1 / math.sqrt(cfg.hidden_size),
                device,
            )
        self.weight = torch.nn.Parameter(w, requires_grad=False)

    def packed(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight as fp32 and its packed copy (None where packing does not pay), made once and
        again if the weight moved."""
        w = self.weight.float()
        p = getattr(self, "_pw", None)
        if p is None or p[0] != self.weight.data_ptr():
            p = self._pw = (self.weight.data_ptr(), pack_weight(w) if w is self.weight else None)
        return w, p[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, h] last-token hidden states -> [B] int32 greedy tokens."""
        w, packed = self.packed()
        logits = linear(self.norm(x).float(), w, packed)
        return torch.argmax(logits, dim=-1).to(torch.int32)


class Reference:
    """The whole model in one process, one request at a time: the equality baseline for tests."""

    def __init__(self, cfg: LlamaConfig, seed: int = 0, device: str = "cpu", dtype=torch.float32):
        self.cfg, self.device, self.dtype = cfg, device, dtype
        self.embed = Embedding(cfg, seed, device).to(device=device, dtype=dtype)
        self.layers = [
            DecoderLayer(cfg, i, seed, device).to(device=device, dtype=dtype) for i in range(cfg.num_layers)
        ]
        self.head = Head(cfg, seed, device).to(device=device, dtype=dtype)

    @torch.inference_mode()
    def generate(self, prompt: list[int], output_len: int) -> list[int]:
        """Greedy tokens: the prompt pass yields the first, then ``output_len - 1`` decode steps."""
        cap = len(prompt) + output_len
        caches = [LayerCache(self.cfg, cap, self.device, self.dtype) for _ in self.layers]
        x = self.embed(torch.tensor(prompt, device=self.device))
        for layer, c in zip(self.layers, caches):
            x = layer.forward_prompt(x, c)
        tok = self.head(x[-1:])
        out = [int(tok[0])]
        for step in range(output_len - 1):
            pos = torch.tensor([len(prompt) + step], device=self.device)
            x = self.embed(tok)
            for layer, c in zip(self.layers, caches):
                x = layer.forward_decode(x, [c], pos)
            tok = self.head(x)
            out.append(int(tok[0]))
        return out
