"""Typed simulation settings (``experiments.*.simulations`` of config.yaml); defaults from
docs/design/simulator.md s3, s7.

A :class:`SimRunSpec` is one simulated bar of a figure. ``WorkloadSpec`` carries everything a single
simulation needs besides the placement: the workload, the run's knobs (KV-expectation thresholds,
the force flag of the 70B separate pipelines, the machine mix behind the helix scheduler's flow
capacities) and the seed. Unset durations take the paper's values for the mode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ONLINE_DURATION_S = 1800.0
OFFLINE_WARMUP_S = 60.0
OFFLINE_MEASURE_S = 600.0
HELIX_N_INIT = 20


class WorkloadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["offline", "online"]
    seed: int = 0
    # online: token rate (input+output tokens/s) the Azure trace is scaled to
    rate_tps: float | None = Field(None, gt=0)
    # online: arrivals span duration_s from t0 (default 1800); offline: measured span (default 600)
    duration_s: float | None = Field(None, gt=0)
    # excluded from the measure window (default: online 0, offline 60)
    warmup_s: float | None = Field(None, ge=0)
    # offline: initial concurrency (closed loop); helix default 20, then fed by KV expectation
    n_init: int | None = Field(None, ge=1)
    feed_hwm: float = Field(0.8, gt=0, le=1)
    # helix KV expectation (high-water mark, expected-output ratio); default by mode (s5.2.5)
    kv_hwm: float | None = Field(None, gt=0, le=1)
    kv_ratio: float | None = Field(None, ge=0)
    # run nodes holding more than K layers with the K-layer batch limits (70B separate pipelines)
    force: bool = False
    # machine mix behind the helix flow capacities; null = the run's cluster
    mix: dict[str, int] | None = None

    @model_validator(mode="after")
    def _check(self) -> "WorkloadSpec":
        if self.mode == "online" and self.rate_tps is None:
            raise ValueError("rate_tps: an online workload needs a positive rate (tokens/s)")
        return self

    @property
    def duration(self) -> float:
        if self.duration_s is not None:
            return self.duration_s
        return ONLINE_DURATION_S if self.mode == "online" else OFFLINE_MEASURE_S

    @property
    def warmup(self) -> float:
        if self.warmup_s is not None:
            return self.warmup_s
        return 0.0 if self.mode == "online" else OFFLINE_WARMUP_S


class SimRunSpec(BaseModel):
    """One simulated bar of a figure: a placement, a scheduler and a workload.

    Where the paper splits a cluster into single-type sub-clusters (separate pipelines, LLaMA-1 30B
    helix), ``parts`` maps each part name (a100, l4, ..., v100_t4) to its own workload; part runs
    live under cluster ``<cluster>-<part>`` and the run's result is their aggregate (sum of
    throughputs, pooled latency samples).
    """

    model_config = ConfigDict(extra="forbid")

    cluster: str
    model: str
    method: str
    # any scheduler registered in helix.scheduling (a new one is one file there)
    scheduler: str = Field(description="a scheduler registered in helix.scheduling")
    mode: Literal["offline", "online"]
    workload: WorkloadSpec | None = None
    parts: dict[str, WorkloadSpec] | None = None

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, name: str) -> str:
        from helix.scheduling import SCHEDULERS

        if name not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {name!r} (known: {', '.join(SCHEDULERS.choices())})")
        return name

    @model_validator(mode="after")
    def _check(self) -> "SimRunSpec":
        if (self.workload is None) == (self.parts is None):
            raise ValueError("give exactly one of workload or parts")
        for wl in [self.workload] if self.workload else list(self.parts.values()):
            if wl.mode != self.mode:
                raise ValueError(f"workload mode {wl.mode!r} differs from the run's mode {self.mode!r}")
        return self

    def key(self) -> str:
        return f"{self.cluster}/{self.model}/{self.method}/{self.scheduler}/{self.mode}"
