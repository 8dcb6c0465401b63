"""Helpers for rules/placement.smk (kept here so the rule file holds rules only; no snakemake import)."""

from __future__ import annotations

from collections.abc import Callable

from helix.placement.settings import resolve_preset

# helix-<variant>: ablation runs of the helix planner (the suffix is a label the config's
# ``placement`` mapping maps to a preset); paper-<method>: the authors' layouts.
HELIX_FAMILY_PATTERN = "helix(-[a-z0-9]+)?"
METHOD_PATTERN = "petals|swarm|separate|sp_plus|paper-[a-z_]+"


def is_helix_family(method: str) -> bool:
    """helix and helix-<variant>: the runs that also write solver_trace.csv and milp_size.json."""
    import re

    return re.fullmatch(HELIX_FAMILY_PATTERN, method) is not None


def preset_param(cfg) -> Callable:
    """Input function: the resolved preset of one placement, as a JSON-able dict (the rule's params)."""

    def placement_preset(wildcards) -> dict:
        _, preset = resolve_preset(cfg.placement_presets, cfg.placement, wildcards.cluster, wildcards.model, wildcards.method)
        return preset.model_dump(mode="json")

    return placement_preset


def model_json_input(cfg) -> Callable:
    def placement_model_json(wildcards) -> str:
        return str(cfg.resolve_model_path(wildcards.model))

    return placement_model_json


def placement_targets(cfg) -> list[str]:
    """Placements the configured experiments name (cluster x model x method)."""
    return [
        f"results/placements/{c}/{m}/{method}/layout.yaml"
        for exp in cfg.experiments.values()
        for c in exp.clusters
        for m in exp.models
        for method in exp.placements
    ]
