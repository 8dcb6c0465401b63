"""Rule `placement`: place one model on one cluster with one method (preset in params).

Writes results/placements/{cluster}/{model}/{method}/: layout.yaml, flow.json and, for the helix
family (helix, helix-<variant>; rule placement_helix), solver_trace.csv and milp_size.json. Solver
progress goes to the rule's log; bad input is one line there and on stderr, with a non-zero exit
and no outputs. SIGINT/SIGTERM during the solve fail the job too (exit 128 + signal, no outputs),
keeping the incumbent for the rerun (helix.placement.interrupt). The job: helix.planning.job.
"""

from pathlib import Path

from helix.planning.job import placement_job
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
w = sm.wildcards
# the arrival trace, named only when the preset re-ranks online (an empty list otherwise)
arrivals = sm.input.get("arrivals", [])
arrivals = [arrivals] if isinstance(arrivals, str) else list(arrivals)
with rule_log(sm) as log:
    placement_job(
        cluster_key=w.cluster,
        model_key=w.model,
        method=w.method,
        cluster_yaml=sm.input.cluster,
        model=sm.params.model,
        preset=sm.params.preset,
        artifact=sm.params.artifact,
        gpus=sm.params.gpus,
        profiles_root=sm.params.profiles_root,
        lengths=sm.input.lengths,
        arrivals=arrivals,
        out_dir=Path(sm.output.layout).parent,
        say=lambda line: print(line, file=log, flush=True),
        cores=sm.threads,
    )
