"""Rule simulate: one simulation run (or the aggregate of its sub-cluster parts), helix.sim.job."""

from helix.runner import rule_log
from helix.sim.job import simulate_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    metrics = simulate_job(
        dict(sm.params.run),
        sm.output,
        traces=list(sm.input.get("traces", [])),
        layout=list(sm.input.get("layout", [])),
        model=sm.params.model,
        artifact=sm.params.artifact,
        gpus=sm.params.gpus,
    )
    print(
        f"decode throughput {metrics['decode_throughput_tps']:.3f} tok/s; "
        f"prompt {metrics['prompt_latency_s']}; decode {metrics['decode_latency_s']}",
        file=log,
    )
