"""Rules profile / profile_cpu: time one decoder layer and write its profile directory."""

from dataclasses import replace
from pathlib import Path

from helix.profiles.profiler import default_grid, profile_layer, write_run
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    grid = replace(default_grid(sm.params.device), **sm.params.grid)
    run = profile_layer(
        sm.params.config_json,
        sm.wildcards.model,
        device=sm.params.device,
        dtype=sm.params.dtype,
        grid=grid,
        seed=sm.params.seed,
    )
    out = write_run(run, Path(sm.output.prompt).parent, sm.wildcards.model, sm.params.gpu)
    print(f"wrote {out}: {run.meta.get('gpu_name') or run.meta.get('cpu')} {run.meta['dtype']}", file=log)
