"""Rule `prototype`: one real serving run (host + workers) of a placement, helix.prototype.job.

A run split into sub-clusters (``parts``) serves nothing itself: it stacks its parts' logs and
aggregates their metrics (sum of throughputs, pooled latencies).
"""

from helix.prototype.job import prototype_job
from helix.prototype.run import StartupError
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm, expected=(StartupError,)) as log:
    prototype_job(sm.params.spec, sm.input, sm.output, say=lambda msg: print(msg, file=log, flush=True))
