"""The interface every stage engine implements (one per worker process).

A worker receives, per request and iteration, the sub-range ``[start, end)`` of its held layers to
run (always a suffix of what it holds in Helix, but any sub-range is allowed) and a payload: token
ids when ``start == 0``, else the previous stage's hidden states. ``step()`` runs everything queued
(prompts one by one, decodes batched) and returns one output per work item: hidden states, or the
greedy next token when ``end`` is the model's last layer. The KV cache of a (request, layer) lives
in the engine from the prompt pass until ``free``. An exception while running one request must
come back as that request's output with ``error`` set, never out of ``step()``: the worker reports
it to the host and goes on serving the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass
class StageWork:
    rid: int
    phase: str  # "prompt" | "decode"
    start: int
    end: int
    payload: Any  # np/torch array: int32 token ids (start == 0) or float hidden [n, hidden]
    max_tokens: int  # input_len + output_len: the cache capacity and the stop length
    context: int = 0  # tokens already in the cache before this iteration (decode position)
    meta: Any = None  # carried through untouched (the message header)


@dataclass
class StageOutput:
    work: StageWork
    payload: Any  # hidden [n, hidden] (not last) or int32 [1] next token (last layer)
    is_token: bool
    error: str | None = None  # this request failed here (its KV is dropped); the others go on


class StageEngine(ABC):
    name = "base"

    def __init__(
        self,
        model_cfg,
        held: tuple[int, int],
        *,
        seed: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
        checkpoint: str | None = None,
    ):
        """``checkpoint``: a HF checkpoint directory to read the held range's weights from (None:
        seeded random weights)."""
        self.model_cfg, self.held, self.seed, self.device, self.dtype = model_cfg, held, seed, device, dtype
        self.checkpoint = checkpoint
        # where the engine's time goes (CPU seconds of the calling thread per phase, steps, rows):
        # the worker reports it with its heartbeats, benchmarks/prototype.py prints it
        self.perf: dict[str, float] = {
            "prompt_cpu_s": 0.0,
            "decode_cpu_s": 0.0,
            "prompts": 0,
            "decode_steps": 0,
            "decode_rows": 0,
        }

    @abstractmethod
    def submit(self, work: StageWork) -> None:
        """Queue one iteration of one request."""

    @abstractmethod
    def step(
        self, max_decodes: int | None = None, phase: str | None = None, max_layers: int | None = None
    ) -> list[StageOutput]:
        """Run the queued work (every prompt; at most ``max_decodes`` decodes, oldest first, the
        rest stay in ``queue``); return outputs in the order they can be sent on. ``phase``
        ("prompt" or "decode"): run only that phase's work, the rest stays queued (a worker runs
        and sends its decodes before its prompts, so the next stage is not kept waiting).
        ``max_layers``: run at most that many layers of prompts (oldest first); an unfinished
        prompt stays queued and resumes where it stopped."""

    @abstractmethod
    def free(self, rid: int) -> None:
        """Drop a request's KV cache (finished or aborted)."""

    @abstractmethod
    def cached_requests(self) -> int:
        """Requests holding KV cache here (for logs and tests)."""

    def pending_prompts(self) -> list[tuple[int, int]] | None:
        """(tokens, layers still to run) of each queued prompt, in the order ``step`` runs them;
        None if this engine cannot say (the worker then runs whole prompts)."""
        return None
