"""Rules of the placement phase: results/placements/{cluster}/{model}/{method}/.

A run gets exactly its resolved placement preset as params (config ``placement:`` maps
"cluster/model/method", then "method", to a preset name), so editing one preset reruns only the
placements that use it. ``paper-<method>`` imports the authors' layout from the artifact;
``helix-<variant>`` (ablations: helix-pruned, helix-noprune, helix-nowarm) is the helix planner
under the preset the mapping gives that name.
Outputs: layout.yaml and flow.json; the helix family (rule placement_helix, same job with a
disjoint method pattern) also declares solver_trace.csv and milp_size.json.
"""

from helix.profiles.paths import TRACE_FILES
from helix.placement.workflow import (
    HELIX_FAMILY_PATTERN,
    METHOD_PATTERN,
    NAME_PATTERN,
    UNKNOWN_METHOD_PATTERN,
    unknown_method_input,
    cluster_input,
    model_json_input,
    placement_targets,
    preset_param,
    threads_param,
    arrivals_input,
)

placement_preset = preset_param(HCFG)
placement_threads = threads_param(HCFG)
placement_arrivals = arrivals_input(HCFG)
placement_model_json = model_json_input(HCFG, ARTIFACT)
placement_cluster = cluster_input(PROFILES)
placement_unknown = unknown_method_input(HCFG, CONFIG_SOURCE)

register_targets(placement_targets(HCFG))


rule placement:
    input:
        cluster=placement_cluster,
        model=placement_model_json,
        profiles=PROFILES.cluster_profiles,
        artifact=ARTIFACT.inputs(),
        lengths=TRACE_FILES[0],
        # a serving-aware placement re-ranks online too (the preset's rerank_online_tps)
        arrivals=placement_arrivals,
    output:
        layout="results/placements/{cluster}/{model}/{method}/layout.yaml",
        flow="results/placements/{cluster}/{model}/{method}/flow.json",
    log:
        "logs/placement/{cluster}/{model}/{method}.log",
    benchmark:
        "benchmarks/runs/placement/{cluster}/{model}/{method}.tsv"
    wildcard_constraints:
        cluster=NAME_PATTERN,
        model=NAME_PATTERN,
        method=METHOD_PATTERN,
    conda:
        "../envs/helix.yaml"
    threads: placement_threads
    params:
        preset=placement_preset,
        model=model_entry,
        gpus=PROFILES.gpu_entries,
        artifact=ARTIFACT.root,
        profiles_root="resources/profiles",
    script:
        "../scripts/placement.py"


use rule placement as placement_helix with:
    output:
        layout="results/placements/{cluster}/{model}/{method}/layout.yaml",
        flow="results/placements/{cluster}/{model}/{method}/flow.json",
        trace="results/placements/{cluster}/{model}/{method}/solver_trace.csv",
        milp_size="results/placements/{cluster}/{model}/{method}/milp_size.json",
    wildcard_constraints:
        cluster=NAME_PATTERN,
        model=NAME_PATTERN,
        method=HELIX_FAMILY_PATTERN,
    # The planner's runs are the workflow's longest jobs (about a minute each on 2 cores, the
    # CP-SAT ablations a fixed 60 s of wall time) and simulations wait on some of them: started
    # first, they do not leave one core idle at the end of a full run. Order only, not results.
    priority: 10


use rule placement as placement_unknown_method with:
    input:
        placement_unknown,
    wildcard_constraints:
        cluster=NAME_PATTERN,
        model=NAME_PATTERN,
        method=UNKNOWN_METHOD_PATTERN,
