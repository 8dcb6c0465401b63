"""Rules of the serving-aware planner's evidence (issue 13): the served-throughput estimate
validated against the simulator, and max-flow vs served throughput for the paper's layouts, the
max-flow planner (helix-maxflow) and the serving-aware planner (helix).

Outputs: results/placements/validation/{cluster}/{model}.csv (one case),
results/placements/estimator_validation.csv and .json (all cases; Spearman and pair ordering per
cluster), results/figures/served_validation.{pdf,png}, results/figures/served_throughput.{pdf,png}
and results/tables/served_throughput.csv.
"""

from helix.planning.workflow import (
    case_pattern,
    comparison_inputs,
    own_layouts,
    validation_csvs,
)
from helix.profiles.paths import TRACE_FILES


rule estimator_validation_case:
    input:
        unpack(own_layouts),
        cluster=placement_cluster,
        model=placement_model_json,
        profiles=PROFILES.cluster_profiles,
        lengths=TRACE_FILES[0],
        artifact=ARTIFACT.inputs(),
    output:
        csv="results/placements/validation/{cluster}/{model}.csv",
    log:
        "logs/validation/{cluster}/{model}.log",
    wildcard_constraints:
        cluster=case_pattern(0),
        model=case_pattern(1),
    conda:
        "../envs/helix.yaml"
    params:
        model=model_entry,
        artifact=ARTIFACT.root,
        gpus=PROFILES.gpu_entries,
        seed=HCFG.seed,
        profiles_root="resources/profiles",
    script:
        "../scripts/validation_case.py"


rule estimator_validation:
    input:
        validation_csvs(),
    output:
        csv="results/placements/estimator_validation.csv",
        summary="results/placements/estimator_validation.json",
    log:
        "logs/validation/summary.log",
    conda:
        "../envs/helix.yaml"
    script:
        "../scripts/validation_summary.py"


rule fig_served_validation:
    input:
        csv="results/placements/estimator_validation.csv",
        summary="results/placements/estimator_validation.json",
    output:
        pdf="results/figures/served_validation.pdf",
        png="results/figures/served_validation.png",
    log:
        "logs/figures/served_validation.log",
    conda:
        "../envs/helix.yaml"
    script:
        "../scripts/figure_served.py"


rule fig_served_throughput:
    input:
        unpack(comparison_inputs()),
    output:
        pdf="results/figures/served_throughput.pdf",
        png="results/figures/served_throughput.png",
        table="results/tables/served_throughput.csv",
    log:
        "logs/figures/served_throughput.log",
    conda:
        "../envs/helix.yaml"
    params:
        model=HCFG.models["llama70b"].model_dump(mode="json"),
        model_json=str(HCFG.resolve_model_path("llama70b")),
        gpus={
            g: v.model_dump(mode="json", exclude_none=True)
            for g, v in HCFG.gpus.items()
        },
    script:
        "../scripts/figure_served.py"


rule served:
    input:
        "results/figures/served_validation.pdf",
        "results/figures/served_throughput.pdf",
