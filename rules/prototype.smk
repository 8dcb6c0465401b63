"""Rules of the prototype phase: serve a placement with the real system, parse its event log.

results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/ holds events.csv, routes.csv and
metrics.json (same metric keys as the simulator). Runs are configured under
experiments.<name>.prototypes; a run either names a layout file or uses the placement phase's
results/placements/{cluster}/{model}/{method}/layout.yaml.
"""

from helix.config.schema import NAME_PATTERN
from helix.prototype import workflow as proto_workflow

proto_inputs, proto_spec, proto_gpus = proto_workflow.make_functions(
    HCFG, source=CONFIG_SOURCE
)


rule prototype:
    input:
        unpack(proto_inputs),
    output:
        events="results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/events.csv",
        routes="results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/routes.csv",
        tokens="results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/tokens.csv",
        metrics="results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/metrics.json",
    log:
        "logs/proto/{cluster}/{model}/{method}/{scheduler}/{mode}.log",
    benchmark:
        "benchmarks/runs/proto/{cluster}/{model}/{method}/{scheduler}/{mode}.tsv"
    wildcard_constraints:
        cluster=NAME_PATTERN,
        model=NAME_PATTERN,
    conda:
        "../envs/helix.yaml"
    threads: 2
    resources:
        gpu=proto_gpus,
    params:
        spec=proto_spec,
    script:
        "../scripts/prototype.py"


rule prototypes:
    input:
        proto_workflow.targets(HCFG),


localrules:
    prototypes,


register_targets(proto_workflow.targets(HCFG))
