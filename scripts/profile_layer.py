"""Rules profile / profile_cpu: time one decoder layer and write its profile directory."""

import sys
from dataclasses import replace
from pathlib import Path

from helix.errors import HelixInputError
from helix.profiles.profiler import default_grid, profile_layer, write_run

sm = snakemake  # noqa: F821 - injected by Snakemake
with open(sm.log[0], "w") as log:
    try:
        grid = replace(default_grid(sm.params.device), **sm.params.grid)
        run = profile_layer(sm.params.config_json, sm.wildcards.model, device=sm.params.device,
                            dtype=sm.params.dtype, grid=grid, seed=sm.params.seed)
        out = write_run(run, Path(sm.output.prompt).parent, sm.wildcards.model, sm.params.gpu)
        print(f"wrote {out}: {run.meta.get('gpu_name') or run.meta.get('cpu')} {run.meta['dtype']}", file=log)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=log)
        sys.exit(f"error: {exc.one_line()}")
