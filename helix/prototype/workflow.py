"""Input, params and resources functions for rules/prototype.smk, built from the validated config.

Kept out of the .smk (which then holds only rules) and free of Snakemake imports so they can be
unit-tested. A run is found by its wildcards among every experiment's ``prototypes`` list.
"""

from __future__ import annotations

from typing import Any

from helix.errors import HelixInputError
from helix.profiles.paths import TRACE_FILES  # made by rule import_traces
from helix.prototype.settings import ProtoRunSpec

RUN_DIR = "results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}"


def runs(config: Any) -> list[ProtoRunSpec]:
    """Every configured run, sub-cluster parts expanded into runs of their own."""
    out, seen = [], {}
    for exp in config.experiments.values():
        for r in exp.prototypes:
            for run in [*r.part_runs(), r]:
                path = run_dir(run)
                if path in seen and seen[path] != run:
                    raise HelixInputError(
                        "config",
                        "experiments.*.prototypes",
                        "two different runs write the same results path",
                        path,
                    )
                if path not in seen:
                    seen[path] = run
                    out.append(run)
    return out


def run_dir(run: ProtoRunSpec) -> str:
    return RUN_DIR.format(
        cluster=run.cluster, model=run.model, method=run.method, scheduler=run.scheduler, mode=run.mode
    )


def targets(config: Any) -> list[str]:
    return sorted({f"{run_dir(r)}/metrics.json" for r in runs(config)})


def find_run(config: Any, wildcards, source: str = "config") -> ProtoRunSpec:
    """The configured run of a results/proto path; an unknown cluster or model (the rule takes any
    name) or a run no experiment lists is one line naming the path."""
    key = (wildcards.cluster, wildcards.model, wildcards.method, wildcards.scheduler, wildcards.mode)
    config.check_names(source, "results/proto/" + "/".join(key), wildcards.cluster, wildcards.model)
    for r in runs(config):
        if (r.cluster, r.model, r.method, r.scheduler, r.mode) == key:
            return r
    raise HelixInputError(
        source, "experiments.*.prototypes", "no prototype run configured for", "/".join(key)
    )


def make_functions(config: Any, trace_files=TRACE_FILES, source: str = "config"):
    """(inputs, spec params, gpu resources, threads) functions for the rule (``source``: the
    config file(s), for error lines)."""

    def inputs(wildcards) -> dict:
        run = find_run(config, wildcards, source)
        if run.parts:
            dirs = [run_dir(p) for p in run.part_runs()]
            return {f"part_{k}": [f"{d}/{k}.csv" for d in dirs] for k in ("events", "routes", "tokens")}
        layout = run.layout or f"results/placements/{run.cluster}/{run.model}/{run.method}/layout.yaml"
        return {
            "layout": layout,
            "cluster": f"results/clusters/{run.cluster}.yaml",
            "model": str(config.resolve_model_path(run.model)),
            "lengths": trace_files[0],
            "arrivals": trace_files[1],
        }

    def spec(wildcards) -> dict:
        return find_run(config, wildcards, source).model_dump(mode="json")

    def gpus(wildcards) -> int:
        """GPUs the run occupies on this box: local CUDA runs share one GPU among all workers;
        CPU runs need none and Ray runs hold theirs on the Ray cluster (``gpu`` per worker task)."""
        run = find_run(config, wildcards, source)
        if run.parts:
            return 0
        return 1 if run.launcher == "local" and run.device.startswith("cuda") else 0

    return inputs, spec, gpus
