"""Rule whatif_profile: a (model, GPU) profile without an artifact one: measured if committed, else predicted."""

import json
import sys
from pathlib import Path

from helix.errors import HelixInputError
from helix.models import load_hf_config
from helix.profiles.analytic import FitParams, FitResult, read_measured, write_predicted
from helix.profiles.store import write_profile

sm = snakemake  # noqa: F821 - injected by Snakemake
out_dir = Path(sm.output.prompt).parent
model, gpu = sm.wildcards.model, sm.params.gpu
with open(sm.log[0], "w") as log:
    try:
        if getattr(sm.input, "measured", None):
            measured = Path(sm.input.measured[0]).parent
            prof = read_measured(measured, model, gpu)
            write_profile(out_dir, prof, {**prof.meta, "copied_from": str(measured)})
            print(f"copied measured profile {measured}", file=log)
        else:
            data = json.loads(Path(sm.input.fit).read_text())
            fit = FitResult(FitParams(**data["params"]), data["trained_on"], data["n_points"], data["cost"])
            spec = load_hf_config(sm.params.config_json, model)
            write_predicted(out_dir, spec, model, gpu, fit)
            print(f"predicted {model} on {gpu} with {fit.params.as_dict()}", file=log)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=log)
        sys.exit(f"error: {exc.one_line()}")
