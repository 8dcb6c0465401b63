"""Rules of the simulate phase: results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/.

Each run gets its own entry of the simulation table (config ``experiments.*.simulations``, parts
expanded) as params. ``paper-<method>`` runs read the artifact's layout and placement graph; our
own methods read the placement rule's layout. Runs split into sub-cluster parts are aggregated
from the part runs (cluster ``<cluster>-<part>``): throughputs add up, latency samples are pooled.
Outputs: metrics.json, requests.parquet, congestion.csv, iterations.parquet, meta.json.
"""

from helix.sim.workflow import SimWorkflow

SIMS = SimWorkflow(HCFG, ARTIFACT, PROFILES)
sim_inputs = SIMS.inputs
sim_params = SIMS.params
SIM_GROUP_TARGETS = {g: SIMS.targets(g) for g in SIMS.groups()}

register_targets(SIMS.targets())


rule simulate:
    input:
        unpack(sim_inputs),
    output:
        metrics="results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/metrics.json",
        requests="results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/requests.parquet",
        congestion="results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/congestion.csv",
        iterations="results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/iterations.parquet",
        meta="results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/meta.json",
    log:
        "logs/simulate/{cluster}/{model}/{method}/{scheduler}/{mode}.log",
    benchmark:
        "benchmarks/runs/simulate/{cluster}/{model}/{method}/{scheduler}/{mode}.tsv"
    wildcard_constraints:
        cluster=SIMS.name_pattern(),
        model=SIMS.name_pattern(),
        method=SIMS.name_pattern(),
    conda:
        "../envs/helix.yaml"
    params:
        run=sim_params,
        model=model_entry,
        artifact=ARTIFACT.root,
        gpus=PROFILES.gpu_entries,
    script:
        "../scripts/simulate.py"


rule sim_single_cluster:
    input:
        SIM_GROUP_TARGETS.get("single_cluster", []),


rule sim_geo_distributed:
    input:
        SIM_GROUP_TARGETS.get("geo_distributed", []),


rule sim_high_heterogeneity:
    input:
        SIM_GROUP_TARGETS.get("high_heterogeneity", []),


rule sim_placement_deep_dive:
    input:
        SIM_GROUP_TARGETS.get("placement_deep_dive", []),


rule sim_request_scheduling:
    input:
        SIM_GROUP_TARGETS.get("request_scheduling", []),


rule sim_ablation_pruning:
    input:
        SIM_GROUP_TARGETS.get("ablation_pruning", []),


rule sim_all:
    input:
        SIMS.targets(),
