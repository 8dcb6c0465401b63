"""Typed workload settings (the `workloads:` section of config.yaml); defaults from simulator.md s3, s7."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["offline", "online"]
    seed: int = 0
    # online: token rate (input+output tokens/s) the Azure trace is scaled to; duration of arrivals
    rate_tps: float | None = Field(None, gt=0)
    duration_s: float = Field(1800.0, gt=0)
    warmup_s: float = Field(0.0, ge=0)
    # offline: initial concurrency (closed loop); the helix scheduler feeds by KV expectation
    n_init: int | None = Field(None, ge=1)
    feed_hwm: float = Field(0.8, gt=0)


class SimRunSpec(BaseModel):
    """One simulated bar of a figure: a placement, a scheduler and a workload.

    Where the paper splits a cluster into single-type sub-clusters (separate pipelines, LLaMA-1 30B
    helix), ``parts`` maps each sub-cluster name to its own workload, and the run's result is the
    aggregate of the parts (sum of throughputs, pooled latency samples).
    """

    model_config = ConfigDict(extra="forbid")

    cluster: str
    model: str
    method: str
    scheduler: Literal["helix", "swarm", "random", "shortest_queue"]
    mode: Literal["offline", "online"]
    workload: WorkloadSpec | None = None
    parts: dict[str, WorkloadSpec] | None = None
