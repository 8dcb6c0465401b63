"""Typed settings of one prototype run (a ``prototype:`` entry of config.yaml).

Defaults follow docs/design/prototype.md s6 (5-minute runs, 60-s warm-up, KV expectation of the helix
scheduler) except where the tiny CPU model needs scaled-down lengths: ``lengths`` rescales the
Azure Conversation pairs and clips them so prompts and outputs fit the tiny model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LengthScaling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: float = Field(1.0, gt=0, description="multiply Azure input/output lengths by this")
    min_input: int = Field(1, ge=1)
    max_input: int = Field(2047, ge=1)
    min_output: int = Field(1, ge=1)
    max_output: int = Field(1000, ge=1)


class ProtoRunSpec(BaseModel):
    """One prototype run: placement (cluster, model, method), scheduler, workload, engine."""

    model_config = ConfigDict(extra="forbid")

    cluster: str
    model: str
    method: str
    scheduler: Literal["helix", "swarm", "random"]
    mode: Literal["offline", "online"]
    layout: str | None = Field(None, description="a layout YAML to use instead of results/placements/...")
    duration_s: float = Field(300.0, gt=0)
    warmup_s: float = Field(60.0, ge=0)
    seed: int = 0
    rate_tps: float | None = Field(None, gt=0, description="online: input+output tokens/s of arrivals")
    n_init: int = Field(20, ge=1, description="offline: initial concurrency")
    feed_hwm: float = Field(0.8, gt=0)
    feed: Literal["paper", "replace"] = Field(
        "paper",
        description=(
            "offline: 'paper' = the paper's trigger (helix: a new request after every prompt and every "
            "finish while the KV expectation allows, so concurrency grows; swarm/random: 1:1); 'replace' = "
            "each finished request is replaced 1:1 whatever the scheduler, so exactly n_init are in flight "
            "(benchmarks)"
        ),
    )
    lengths: LengthScaling = LengthScaling()
    # helix scheduler inputs the tiny model has no profile for: tokens/s of one layer on a node
    # (a node holding k layers gets layer_tps / k) and KV slots (token x layer) per node.
    layer_tps: float = Field(1000.0, gt=0)
    kv_slots: int = Field(10**7, ge=1)
    # KV expectation of the helix scheduler; None = the paper's mode default. The assumed output
    # length (240 tokens) is multiplied by ``lengths.scale`` so it follows the scaled workload.
    kv_hwm: float | None = Field(None, gt=0, le=1)
    kv_ratio: float | None = Field(None, gt=0)
    engine: str = "torch"
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    threads: int = Field(1, ge=1, description="torch threads per worker process")
    omp_wait_policy: Literal["active", "passive"] | None = Field(
        None,
        description=(
            "how a worker's idle torch (OpenMP) threads wait for the next parallel region: "
            "OMP_WAIT_POLICY in the worker's environment, set by the launcher before torch loads; None = "
            "the runtime's default (torch's libgomp spins for a while, then sleeps). 'passive' sleeps at "
            "once: with threads > 1 a worker's products use a second core while it is free and do not "
            "burn it while another process needs it (benchmarks/prototype.py --threads 2 "
            "--omp-wait-policy passive: ahead of one thread per worker on a loaded machine, behind it on "
            "a quiet one, docs/prototype-performance.md)"
        ),
    )
    decode_batch: int | None = Field(
        None,
        ge=1,
        description=(
            "most decodes a worker runs in one step (oldest first; the rest wait for the next step); None = "
            "all waiting. With k pipeline stages and n requests in flight, n/k lets the stages work on "
            "different micro-batches at the same time instead of passing one batch back and forth"
        ),
    )
    regroup: bool = Field(
        True,
        description=(
            "a worker holds the decodes waiting for it while more of the decodes it sent on are still to "
            "come back (at most twice its recent decode step time), so the requests in flight run as one "
            "batch instead of drifting into several small ones that each read every weight"
        ),
    )
    fit_prompts: bool = Field(
        False,
        description=(
            "while a decode batch this worker sent on is still to come back, start a prompt layer only if "
            "the batch's requests lose less by its overrun past the batch's due time than the waiting "
            "prompts lose by waiting (Worker.prompt_budget); False = whole prompts whenever no decode "
            "waits. On the 2-core CPU benchmark it shortened the decode round and lengthened the prompt "
            "latency about as much (docs/prototype-performance.md), so it is off"
        ),
    )
    prompt_layers: int = Field(
        0,
        ge=0,
        description=(
            "layers of prompts a worker runs between two looks at its inbox (0 = whole prompts): with k, a "
            "decode batch that arrives meanwhile waits k layers, not a whole prompt (on the 2-core CPU "
            "benchmark whole prompts did better: the decodes that wait for a prompt join one larger batch)"
        ),
    )
    loopback: bool = Field(
        True,
        description=(
            "the last stage sends each next decode straight to the request's first stage (the host still "
            "gets, checks and logs every token, and ends requests); False = every iteration goes out from "
            "the host, as in the paper. Takes the host's wake-up off every token's critical path"
        ),
    )
    share_weights: bool = Field(
        True,
        description=(
            "workers started on this machine (launcher 'local', CPU torch engines) are forked from one "
            "process that built the weights they hold once, so they read one physical copy of them "
            "(helix.prototype.forkserver); False = each worker process builds its own"
        ),
    )
    launcher: Literal["local", "ray"] = "local"
    gpu: float = Field(0, ge=0, description="GPUs each Ray worker task asks for (fractions share a GPU)")
    startup_timeout_s: float = Field(60.0, gt=0)
    heartbeat_timeout_s: float = Field(2.0, gt=0)
    # Sub-cluster runs (separate pipelines, LLaMA-1 30B helix): each named sub-cluster is served as
    # its own run (this spec with ``cluster`` = the part and the part's overrides, e.g. rate_tps);
    # this run's result under the parent cluster's path is their aggregate (docs/design/prototype.md s8).
    parts: dict[str, dict[str, Any]] | None = None

    def part_runs(self) -> list["ProtoRunSpec"]:
        """The per-sub-cluster runs of an aggregate run (empty for a plain run)."""
        out = []
        for name, overrides in (self.parts or {}).items():
            data = self.model_dump()
            data.update(overrides or {})
            data.update(cluster=name, parts=None)
            out.append(ProtoRunSpec.model_validate(data))
        return out
