"""Typed placement presets (the `placement_presets:` section of config.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PlacementPreset(BaseModel):
    """How to run a placement method; a rule gets exactly its preset as params."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["portfolio", "highs", "cpsat", "gurobi", "heuristic"] = "portfolio"
    time_limit_s: float = Field(60.0, gt=0)
    threads: int = Field(2, ge=1)
    seed: int = 0
    prune: bool = False
    prune_keep: int = Field(12, ge=1)
    warm_start: Literal["none", "petals", "swarm"] = "petals"
    # Per single-type sub-cluster solve, as the paper did for LLaMA-1 30B on single24/geo24.
    per_gpu_type: bool = False
    write_model: Literal["none", "lp", "mps"] = "none"
