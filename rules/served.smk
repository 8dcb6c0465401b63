"""Rules of the serving-aware planner's evidence (issue 13): the served-throughput estimate
validated against the simulator.

Outputs: results/placements/validation/{cluster}/{model}.csv (one case),
results/placements/estimator_validation.csv and .json (all cases; Spearman and pair ordering per
cluster). The figures drawn from them (served_validation; served_throughput: max-flow vs served
throughput of the paper's layout, helix-maxflow and helix, with results/tables/served_throughput.csv)
are records of the figure catalogue (helix.figures.catalog), built by target ``served``.
"""

from helix.planning.workflow import case_pattern, own_layouts, validation_csvs
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
