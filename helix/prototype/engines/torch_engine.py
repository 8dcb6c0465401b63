"""The ``torch`` stage engine: our LLaMA layers for a held range, per-request KV, batched decode.

Prompts run one request at a time (their lengths differ and prefill is already a matrix product);
all decodes waiting at the worker run as one batch per layer: at layer l the batch is every decode
whose sub-range contains l, so requests entering this worker at different layers (overlapping
placements, suffix execution) still share the matrix products of the layers they have in common.
Prompts go first, then decodes, as in the paper's layer-wise engine (docs/design/prototype.md s5).
"""

from __future__ import annotations

import time

import torch

from helix.prototype.engines import register
from helix.prototype.engines.base import StageEngine, StageOutput, StageWork
from helix.prototype.model import DecodeBatch, DecoderLayer, Embedding, Head, LayerCache, LlamaConfig

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# Weights built in this process before it forked the workers of one machine
# (``helix.prototype.forkserver``): an engine whose layers are among them takes them instead of
# building its own, so co-located workers read one physical copy (the pages stay shared copy-on-write;
# nothing writes a weight): one copy of the fused and the oneDNN-packed weights in memory instead of
# one per worker, built once (faster start-up). Two whole-model replicas on the 2-core development
# machine then read one 25 MB copy per decode step instead of two; that made two back-to-back decode
# loops ~10 % faster but did not change the benchmark's decode rate (docs/prototype-performance.md).
# Keyed by everything the weights depend on.
_SHARED: dict[tuple, dict] = {}


def _shared_key(model_cfg: LlamaConfig, seed: int, device: str, dtype: str, checkpoint: str | None) -> tuple:
    return (model_cfg, int(seed), str(device), str(dtype), str(checkpoint) if checkpoint else None)


def preload(model_cfg: LlamaConfig, held: tuple[int, int], **options) -> "TorchEngine":
    """Build (read or draw, fuse and pack) the weights of ``held`` once, for every engine this process
    or its forked children make later for a range within it (``options``: the engine's keywords,
    seed, device, dtype and checkpoint)."""
    eng = TorchEngine(model_cfg, held, **options)
    eng.prepare()
    _SHARED[_shared_key(model_cfg, eng.seed, eng.device, eng.dtype, eng.checkpoint)] = {
        "held": tuple(held),
        "layers": eng.layers,
        "embed": eng.embed,
        "head": eng.head,
    }
    return eng


@register("torch")
class TorchEngine(StageEngine):
    name = "torch"

    def __init__(
        self,
        model_cfg: LlamaConfig,
        held: tuple[int, int],
        *,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
        checkpoint: str | None = None,
    ):
        super().__init__(model_cfg, held, seed=seed, device=device, dtype=dtype, checkpoint=checkpoint)
        self.tdtype = DTYPES[dtype]
        check_device_dtype(device, self.tdtype)
        s, e = held
        L = model_cfg.num_layers
        got = _SHARED.get(_shared_key(model_cfg, seed, device, dtype, checkpoint))
        # the preloaded range holds the embedding iff it starts at 0 and the head iff it ends at L
        self.shared_weights = got is not None and got["held"][0] <= s and e <= got["held"][1]
        if self.shared_weights:
            self.layers = {i: got["layers"][i] for i in range(s, e)}
            self.embed = got["embed"] if s == 0 else None
            self.head = got["head"] if e == L else None
        else:
            self._build(model_cfg, held, seed, device, checkpoint)
        self.caches: dict[int, dict[int, LayerCache]] = {}
        self.queue: list[StageWork] = []
        self._partial: dict[int, tuple[torch.Tensor, int]] = {}  # rid -> (hidden, next layer) of a prompt

    def _build(self, model_cfg: LlamaConfig, held: tuple[int, int], seed: int, device: str, checkpoint):
        s, e = held
        L = model_cfg.num_layers
        t, ck = {}, None
        if checkpoint:
            from helix.prototype.checkpoint import EMBED, NORM, Checkpoint

            ck = Checkpoint(checkpoint, model_cfg.name)
            t = ck.load(s, e, self.tdtype)
        self.layers = {
            i: DecoderLayer(model_cfg, i, seed, device, ck.layer_weights(t, i) if ck else None).to(
                device=device, dtype=self.tdtype
            )
            for i in range(s, e)
        }
        self.embed = (
            Embedding(model_cfg, seed, device, t[EMBED] if ck else None).to(device=device, dtype=self.tdtype)
            if s == 0
            else None
        )
        self.head = None
        if e == L:
            self.head = Head(
                model_cfg, seed, device, ck.head_weight(t) if ck else None, t[NORM] if ck else None
            )
            self.head = self.head.to(device=device, dtype=self.tdtype)
        del t

    def prepare(self) -> None:
        """Fuse and pack every weight now rather than at the first step (``preload``: before a fork)."""
        for layer in self.layers.values():
            layer._fused()
        if self.head is not None:
            self.head.packed()

    # -- interface -----------------------------------------------------------------------------
    def submit(self, work: StageWork) -> None:
        s, e = self.held
        if not (s <= work.start < work.end <= e):
            raise ValueError(
                f"request {work.rid}: layers [{work.start}, {work.end}) not within held [{s}, {e})"
            )
        if work.start == 0 and self.embed is None:
            raise ValueError(f"request {work.rid}: starts at layer 0 but this worker has no embedding")
        if work.phase == "decode":
            caches = self.caches.get(work.rid)
            if caches is None or work.start not in caches:
                raise ValueError(
                    f"request {work.rid}: decode of layers [{work.start}, {work.end}) "
                    "without their prompt pass here"
                )
            if caches[work.start].length != work.context:
                raise ValueError(
                    f"request {work.rid}: decode at position {work.context} "
                    f"but {caches[work.start].length} tokens cached"
                )
        self.queue.append(work)

    def free(self, rid: int) -> None:
        self.caches.pop(rid, None)
        self._partial.pop(rid, None)

    def cached_requests(self) -> int:
        return len(self.caches)

    def pending_prompts(self) -> list[tuple[int, int]]:
        partial = self._partial
        return [
            (_length(w.payload), w.end - (partial[w.rid][1] if w.rid in partial else w.start))
            for w in self.queue
            if w.phase == "prompt"
        ]

    @torch.inference_mode()
    def step(
        self, max_decodes: int | None = None, phase: str | None = None, max_layers: int | None = None
    ) -> list[StageOutput]:
        work, self.queue = self.queue, []
        if phase is not None:
            self.queue = [w for w in work if w.phase != phase]
            work = [w for w in work if w.phase == phase]
        perf, t0 = self.perf, time.thread_time()
        prompts = [w for w in work if w.phase == "prompt"]
        if max_layers is None:
            outs = [self._guard(self._prompt, w) for w in prompts]
        else:
            outs, unfinished = self._prompt_layers(prompts, max_layers)
            self.queue = unfinished + self.queue
        t1 = time.thread_time()
        perf["prompts"] += len(outs)
        perf["prompt_cpu_s"] += t1 - t0
        decodes = [w for w in work if w.phase == "decode"]
        if max_decodes is not None and len(decodes) > max_decodes:
            decodes, rest = decodes[:max_decodes], decodes[max_decodes:]
            self.queue = rest + self.queue
        if decodes:
            try:
                outs.extend(self._decodes(decodes))
            except Exception:  # noqa: BLE001
                # find the request at fault: rerun one by one (KV writes are idempotent)
                outs.extend(self._guard(lambda w: self._decodes([w])[0], w) for w in decodes)
            perf["decode_steps"] += 1
            perf["decode_rows"] += len(decodes)
            perf["decode_cpu_s"] += time.thread_time() - t1
        for o in outs:
            w = o.work
            n = 1 if w.phase == "decode" else int(_length(w.payload))
            if (
                o.error is not None or w.context + n >= w.max_tokens - 1
            ):  # last iteration ran (or failed): KV not needed
                self.free(w.rid)
        return outs

    @staticmethod
    def _guard(fn, w: StageWork) -> StageOutput:
        try:
            return fn(w)
        except Exception as exc:  # noqa: BLE001 - one request's fault fails that request only
            return StageOutput(w, None, False, error=f"{type(exc).__name__}: {exc}")

    # -- internals -----------------------------------------------------------------------------
    def _input(self, w: StageWork) -> torch.Tensor:
        t = torch.as_tensor(w.payload, device=self.device)
        if w.start == 0:
            return self.embed(t.reshape(-1))
        return t.reshape(-1, self.model_cfg.hidden_size).to(self.tdtype)

    def _output(self, w: StageWork, x: torch.Tensor) -> StageOutput:
        if w.end == self.model_cfg.num_layers:
            return StageOutput(w, self.head(x[-1:]).cpu(), True)
        return StageOutput(w, x.cpu(), False)

    def _prompt(self, w: StageWork) -> StageOutput:
        x = self._input(w)
        caches = self.caches.setdefault(w.rid, {})
        for i in range(w.start, w.end):
            caches[i] = LayerCache(self.model_cfg, w.max_tokens, self.device, self.tdtype)
            x = self.layers[i].forward_prompt(x, caches[i])
        return self._output(w, x)

    def _prompt_layers(self, prompts: list[StageWork], budget: int) -> tuple[list[StageOutput], list]:
        """Run at most ``budget`` layers of the queued prompts, oldest first; a prompt stopped
        between two layers keeps its hidden state here and goes on at the next call (the worker
        runs prompts a layer at a time so that a decode batch arriving meanwhile waits one layer,
        not a whole prompt). Returns the finished prompts' outputs and the unfinished work."""
        outs, rest = [], []
        for w in prompts:
            if budget <= 0:
                rest.append(w)
                continue
            try:
                got = self._partial.pop(w.rid, None)
                if got is None:
                    x, i = self._input(w), w.start
                    self.caches.setdefault(w.rid, {})
                else:
                    x, i = got
                caches = self.caches[w.rid]
                while i < w.end and budget > 0:
                    caches[i] = LayerCache(self.model_cfg, w.max_tokens, self.device, self.tdtype)
                    x = self.layers[i].forward_prompt(x, caches[i])
                    i, budget = i + 1, budget - 1
                if i < w.end:
                    self._partial[w.rid] = (x, i)
                    rest.append(w)
                else:
                    outs.append(self._output(w, x))
            except Exception as exc:  # noqa: BLE001 - one request's fault fails that request only
                self._partial.pop(w.rid, None)
                outs.append(StageOutput(w, None, False, error=f"{type(exc).__name__}: {exc}"))
                budget -= 1
        return outs, rest

    def _decodes(self, ws: list[StageWork]) -> list[StageOutput]:
        """One batch per layer over the decodes whose sub-range holds it. The batch tensor, the
        rotary angles and the mask are rebuilt only where the set of requests changes (requests
        entering or leaving at different layers), not at every layer."""
        xs = [self._input(w) for w in ws]
        pos = torch.tensor([w.context for w in ws], device=self.device)
        cur: list[int] = []
        x = batch = None
        for i in range(min(w.start for w in ws), max(w.end for w in ws)):
            idx = [k for k, w in enumerate(ws) if w.start <= i < w.end]
            if idx != cur:
                for j, k in enumerate(cur):  # hand the rows of the previous set back
                    xs[k] = x[j : j + 1]
                cur = idx
                if not idx:
                    continue
                x = torch.cat([xs[k] for k in idx]) if len(idx) > 1 else xs[idx[0]]
                batch = DecodeBatch(self.model_cfg, pos[idx], x.dtype)
            if not idx:
                continue
            x = self.layers[i].forward_decode(x, [self.caches[ws[k].rid][i] for k in idx], batch=batch)
        for j, k in enumerate(cur):
            xs[k] = x[j : j + 1]
        last = [k for k, w in enumerate(ws) if w.end == self.model_cfg.num_layers]
        outs = [StageOutput(w, x.cpu(), False) for w, x in zip(ws, xs)]
        if last:  # one LM-head product for every request that ends here
            toks = self.head(torch.cat([xs[k] for k in last])).cpu()
            for j, k in enumerate(last):
                outs[k] = StageOutput(ws[k], toks[j : j + 1], True)
        return outs


def check_device_dtype(device: str, dtype: torch.dtype) -> None:
    """A dtype the device cannot run is a one-line error before any weight is read."""
    from helix.errors import HelixInputError

    if str(device).startswith("cuda"):
        if not torch.cuda.is_available():
            raise HelixInputError("prototype", "device", "CUDA is not available on this machine", device)
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise HelixInputError(
                "prototype",
                "dtype",
                f"{torch.cuda.get_device_name()} cannot run bfloat16; use float16",
                "bfloat16",
            )


def _length(payload) -> int:
    shape = getattr(payload, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else 1
