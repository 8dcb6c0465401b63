"""Typed placement presets (the `placement_presets:` section of config.yaml).

A placement rule receives exactly its resolved preset as params, so editing one preset reruns only
the placements that use it. ``resolve_preset`` applies the root config's ``placement`` mapping:
``"cluster/model/method"`` first, then ``method``, then ``"default"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PlacementPreset(BaseModel):
    """How to run a placement method; a rule gets exactly its preset as params."""

    model_config = ConfigDict(extra="forbid")

    # portfolio = heuristic search then the MILP seeded with its best layout (the `helix` default);
    # heuristic = the flow-scored search alone; highs/cpsat/gurobi = the MILP alone on that backend.
    backend: Literal["portfolio", "highs", "cpsat", "gurobi", "heuristic"] = "portfolio"
    # MILP engine the portfolio hands the heuristic's layout to.
    milp_backend: Literal["highs", "cpsat", "gurobi"] = "highs"
    # MILP formulation: the per-machine model of docs/design/placement.md s2, or the aggregated interval model
    # of s11a (exact only when no network link can bind; rejected otherwise); auto = aggregated
    # where exact, else per_node. ``prune`` and ``write_model`` concern the per_node model.
    formulation: Literal["auto", "per_node", "aggregated"] = "auto"
    # What ends a solve. ``time``: the wall clock (time_limit_s), so a rerun on a loaded machine
    # may find another layout. ``evaluations``: counts only - the search stops after
    # ``max_evaluations`` exact max-flow evaluations (lanes of ``lane_evaluations``, seeded per
    # lane) and the MILP after ``milp_max_nodes`` branch-and-bound nodes (HiGHS, Gurobi; CP-SAT
    # gets milp_max_nodes / 100 deterministic seconds, interleaved workers), so the same preset
    # gives a byte-identical layout.yaml on every rerun. time_limit_s is then only a safety cap
    # (a run that hits it says so in flow.json notes: ``budget_hit: time``).
    budget: Literal["time", "evaluations"] = "time"
    max_evaluations: int = Field(200_000, ge=1)
    lane_evaluations: int = Field(15_000, ge=100)
    milp_max_nodes: int = Field(200, ge=0)
    time_limit_s: float = Field(60.0, gt=0)
    # share of the time limit the portfolio gives the heuristic before the MILP
    heuristic_share: float = Field(0.5, gt=0, le=1)
    # solver threads (MILP backends); the served planner's worker processes for its independent
    # lanes and simulations (helix/parallel.py: the same layout with any number)
    threads: int = Field(2, ge=1)
    seed: int = 0
    prune: bool = False
    prune_keep: int = Field(12, ge=1)
    prune_threshold: float = Field(0.0, ge=0, description="bytes/s; tier-2 links above it survive")
    # keep the arcs the warm-start layout uses when pruning (docs/design/placement.md s11f); false = the paper
    prune_keep_warm_start: bool = True
    warm_start: Literal["none", "petals", "swarm", "best"] = "best"
    # early stop: objective >= early_stop_ratio * upper bound with no improvement for early_stop_idle_s
    # (the idle rule is wall-clock, so it is ignored under budget: evaluations)
    early_stop_ratio: float = Field(0.995, gt=0, le=1)
    early_stop_idle_s: float | None = Field(None, gt=0)
    # Per single-type sub-cluster solve, as the paper did for LLaMA-1 30B on single24/geo24.
    per_gpu_type: bool = False
    write_model: Literal["none", "lp", "mps"] = "none"
    # baselines
    swarm_stages: int | None = Field(None, ge=1, description="default: L / largest divisor of L <= min K")
    separate_types: list[str] | None = None  # default rule: see helix/placement/methods/separate.py
    separate_overload: float = Field(1.75, gt=0)
    sp_plus_mixed_types: list[str] | None = None
    # capacity tables: typical.py (default) or the coefficients of the authors' LP file
    capacities: Literal["typical", "artifact"] = "typical"
    # What the helix planner maximises. ``maxflow``: the paper's objective (heuristic + MILP);
    # ``served``: the served-throughput estimate (helix/placement/served.py), searched from the
    # warm starts and region-aware segment starts for ``served_evaluations`` estimates, then the
    # best ``rerank`` distinct candidates are re-ranked by short simulations (rerank_duration_s
    # measured after rerank_warmup_s, offline) where the caller provides a simulator
    # (helix/planning/rerank.py); max-flow stays a bound inside the estimate.
    objective: Literal["maxflow", "served"] = "maxflow"
    served_evaluations: int = Field(12_000, ge=1)
    # Served objective: further max-flow searches (step 1) while the search's best is still a warm
    # start (no lane beat them), at most ``maxflow_retries``; search q seeds its lanes
    # ``seed + q * lanes + lane`` (lanes: max_evaluations / lane_evaluations, rounded up). Why: a
    # search that ends at its warm start failed, and every later step starts from its layout
    # (hetero42 at seed 1: 4892 tok/s, the Swarm start; docs/served.md, "Results").
    maxflow_retries: int = Field(0, ge=0)
    rerank: int = Field(4, ge=0)
    # Served search, validated re-scoring: the ``validated_candidates`` best layouts of the search
    # by the planner's estimate are scored again by the validation's form of the estimate (the
    # scheduler's routing, admission and decode replayed on the trace's lengths; tens to hundreds
    # of ms a layout), and its ``rerank`` best distinct ones are simulated after the ceiling
    # rounds and join the choice. Why: the planner's closed form is flat where the search ends
    # (layouts it scores within 5 % the simulator serves up to 40 % apart), while the
    # validation's form orders them (docs/served.md, step 5b). 0: off; needs the trace's lengths
    # (given with the simulated re-ranking).
    validated_candidates: int = Field(0, ge=0)
    rerank_duration_s: float = Field(240.0, gt=0)
    rerank_warmup_s: float = Field(60.0, ge=0)
    # Served search, flow floors: for each fraction f, the estimate is also annealed from the
    # max-flow search's best layout keeping at least f of that layout's max-flow (a soft floor:
    # below it the score falls with the fourth power of the shortfall), ``floor_evaluations``
    # estimates per floor in three seeded lanes. Why: the estimate alone drifts to layouts of low
    # max-flow and little KV room that the simulator serves worse; the ``floor_candidates`` best
    # lanes' layouts of each floor are re-ranked by simulation beside the estimate's best, the
    # max-flow layout and the warm starts (the estimate cannot tell them apart; the simulator can).
    served_flow_floors: list[float] = Field(default_factory=list)
    floor_evaluations: int = Field(4_500, ge=1)
    floor_candidates: int = Field(1, ge=1, le=3)
    # Served search, round-trip ceilings (run during the re-ranking): for each fraction f, the
    # estimate is also annealed from the layout the offline simulation ranks best, keeping the
    # estimated per-token round trip at or below f of that layout's and its max-flow at or above
    # the lowest flow floor's share of it (soft, like the floors; floor_evaluations per ceiling,
    # floor_candidates simulated). Why: an online run below capacity loses what is still decoding
    # when its window ends, which grows with the round trip (docs/served.md).
    served_rtt_ceilings: list[float] = Field(default_factory=list)
    # Lanes per round-trip ceiling (each of floor_evaluations / 3 estimates, seeded
    # ``seed + 2000 * (ceiling + 1) + lane``, so more lanes only add to fewer) and how many of
    # their best layouts are simulated (default: floor_candidates). Why: the estimate cannot tell
    # the ceiling lanes' layouts apart while the simulator serves them up to 20 % apart
    # (docs/served.md), so more lanes, each simulated, buy candidates the estimate would not pick.
    ceiling_lanes: int = Field(3, ge=1)
    ceiling_candidates: int | None = Field(None, ge=1)
    # Rounds of round-trip ceilings: round r anneals ``ceiling_lanes`` lanes per ceiling (seeds
    # ``seed + 2000 * (ceiling + 1) + r * ceiling_lanes + lane``) from the layout the offline
    # simulation ranks best after round r - 1's candidates are simulated, so a round that found a
    # better layout is the next round's reference, and a round that did not leaves the next one
    # the same lanes as one round of more lanes. Why: the ceilings hold the round trip relative to
    # their reference, and a weak reference (the estimate's pick, where no floor layout simulates
    # well) caps what its lanes reach (hetero42 at seed 2, docs/served.md).
    ceiling_rounds: int = Field(1, ge=1)
    # Two-stage re-ranking: with rerank_screen_s > 0 every candidate is first simulated for
    # rerank_screen_s (after rerank_warmup_s), then the ``rerank_final`` best of that screen and
    # the max-flow layout get the full rerank_duration_s; the best full simulation wins.
    rerank_screen_s: float = Field(0.0, ge=0)
    rerank_final: int = Field(2, ge=1)
    # Serving-aware re-ranking: online rates (tokens/s) at which the re-ranked candidates are also
    # simulated online (rerank_online_duration_s of arrivals, the helix scheduler). The workflow
    # fills it from the configured online runs of the placement's layout (cluster/model/method);
    # empty = offline only. Among the candidates whose simulated offline throughput is within
    # rerank_online_margin of the best one that runs online, the one with the highest combined
    # score (offline and each online throughput, each relative to the best of them) wins. Why: one
    # layout serves both workloads, and online below capacity prefers shorter round trips
    # (docs/served.md).
    rerank_online_tps: list[float] = Field(default_factory=list)
    rerank_online_duration_s: float = Field(1800.0, gt=0)
    rerank_online_margin: float = Field(0.02, ge=0, lt=1)

    @field_validator("served_flow_floors", "served_rtt_ceilings")
    @classmethod
    def _floors(cls, v: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in v):
            raise ValueError("each flow floor or round-trip ceiling is a fraction in (0, 1]")
        return v

    @field_validator("rerank_online_tps")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if any(not r > 0 for r in v):
            raise ValueError("each online re-ranking rate is a positive token rate (tokens/s)")
        return sorted(set(v))


def resolve_preset(
    presets: dict[str, PlacementPreset], mapping: dict[str, str], cluster: str, model: str, method: str
) -> tuple[str, PlacementPreset]:
    """The preset name and preset for one placement (config keys cluster/model/method > method > default).

    A ``helix-<variant>`` method (an ablation: helix-pruned, helix-noprune, helix-nowarm) runs the
    helix planner with the preset the mapping gives it; without a mapping entry it is an error,
    not a silent default run under an ablation's name.
    """
    for key in (f"{cluster}/{model}/{method}", method):
        if key in mapping:
            return mapping[key], presets[mapping[key]]
    from helix.placement.base import helix_variant  # here: base imports this module

    if helix_variant(method):
        from helix.errors import HelixInputError

        raise HelixInputError(
            "config",
            "placement",
            f"no preset mapped to {method!r} (add `{method}: <preset>` to the placement mapping)",
            method,
        )
    if "default" in presets:
        return "default", presets["default"]
    return "default", PlacementPreset()
