"""Helpers for rules/placement.smk (kept here so the rule file holds rules only; no snakemake import)."""

from __future__ import annotations

from collections.abc import Callable

from helix.config.schema import NAME_PATTERN  # noqa: F401  (for rules/placement.smk)
from helix.placement.base import helix_variant, method_pattern
from helix.placement.settings import resolve_preset

# Wildcard constraints of rules placement (every method but the helix family) and placement_helix
# (helix, helix-<variant>: also solver_trace.csv and milp_size.json), from the method registry.
METHOD_PATTERN = method_pattern(helix_family=False)
HELIX_FAMILY_PATTERN = method_pattern(helix_family=True)
# Every other name (rule placement_unknown_method): a path with an unknown method stops with one
# line naming it when the DAG is built, not with Snakemake's bare "no rule to produce".
UNKNOWN_METHOD_PATTERN = f"(?!(?:{method_pattern()})/)[^/]+"
# Cluster and model: any name (NAME_PATTERN) in every placement rule; the first input function
# (cluster_input, unknown_method_input) checks them against the config (Config.check_names).


def _where(wildcards) -> str:
    """The results path the wildcards name (rule estimator_validation_case has no method)."""
    method = getattr(wildcards, "method", None)
    return f"results/placements/{wildcards.cluster}/{wildcards.model}" + (f"/{method}" if method else "")


def unknown_method_input(cfg, source: str) -> Callable:
    """Input function of rule placement_unknown_method: always a one-line error (an unknown
    cluster or model first, as in every placement rule, else the method)."""

    def placement_unknown_method(wildcards) -> list[str]:
        from helix.errors import HelixInputError
        from helix.placement.base import available_methods

        cfg.check_names(source, _where(wildcards), wildcards.cluster, wildcards.model)
        own = [m for m in available_methods() if m != "paper"]
        known = ", ".join([*own, "helix-<variant>", "paper-<method>"])
        raise HelixInputError(
            _where(wildcards), "method", f"unknown placement method (known: {known})", wildcards.method
        )

    return placement_unknown_method


def is_helix_family(method: str) -> bool:
    """helix and helix-<variant>: the runs that also write solver_trace.csv and milp_size.json."""
    return helix_variant(method) is not None


def online_rates(cfg, cluster: str, model: str, method: str) -> list[float]:
    """The rates (tokens/s) of the configured online runs of one placement's layout: simulations
    of this cluster, model and method with one online workload (runs split into parts simulate
    other clusters' layouts), sorted, each once."""
    return sorted(
        {
            float(run.workload.rate_tps)
            for exp in cfg.experiments.values()
            for run in exp.simulations
            if (run.cluster, run.model, run.method) == (cluster, model, method)
            and run.workload is not None
            and run.workload.mode == "online"
        }
    )


def resolved_preset(cfg, cluster: str, model: str, method: str):
    """The preset one placement runs with. A serving-aware preset (``objective: served``) that
    re-ranks by simulation and names no online rates gets those of the configured online runs
    of its layout (``online_rates``), so the layout is chosen for the workloads it will serve."""
    _, preset = resolve_preset(cfg.placement_presets, cfg.placement, cluster, model, method)
    if preset.objective == "served" and preset.rerank > 1 and not preset.rerank_online_tps:
        rates = online_rates(cfg, cluster, model, method)
        if rates:
            preset = preset.model_copy(update={"rerank_online_tps": rates})
    return preset


def preset_param(cfg) -> Callable:
    """Input function: the resolved preset of one placement, as a JSON-able dict (the rule's params)."""

    def placement_preset(wildcards) -> dict:
        preset = resolved_preset(cfg, wildcards.cluster, wildcards.model, wildcards.method)
        return preset.model_dump(mode="json")

    return placement_preset


def threads_param(cfg) -> Callable:
    """The rule's threads: a serving-aware placement runs its lanes and simulations in the
    preset's ``threads`` worker processes (helix/parallel.py), so it asks for that many cores;
    every other placement for one (the MILP backends' threads are the preset's as before)."""

    def placement_threads(wildcards) -> int:
        preset = resolved_preset(cfg, wildcards.cluster, wildcards.model, wildcards.method)
        return preset.threads if preset.objective == "served" else 1

    return placement_threads


def arrivals_input(cfg) -> Callable:
    """Input function: the arrival trace, for a placement that re-ranks online (else nothing)."""

    def placement_arrivals(wildcards) -> list[str]:
        from helix.profiles.paths import TRACE_FILES

        preset = resolved_preset(cfg, wildcards.cluster, wildcards.model, wildcards.method)
        return [TRACE_FILES[1]] if preset.rerank_online_tps else []

    return placement_arrivals


def cluster_input(plan) -> Callable:
    """Input function: the cluster YAML, after checking (one line, before any job) that the config
    has the cluster and the model, and that the cluster can hold the model."""

    def placement_cluster(wildcards) -> str:
        plan.cfg.check_names(plan.source, _where(wildcards), wildcards.cluster, wildcards.model)
        plan.check_holds(wildcards.cluster, wildcards.model)
        return f"results/clusters/{wildcards.cluster}.yaml"

    return placement_cluster


def model_json_input(cfg, artifact) -> Callable:
    """input function: the model's config.json (inside a cloned artifact, the clone's marker;
    ``artifact`` is the workflow's helix.artifact.source.ArtifactSource)."""

    def placement_model_json(wildcards) -> list[str]:
        return artifact.file_input(cfg.models[wildcards.model].config_json)

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
