"""Rule whatif_profile: a (model, GPU) profile without an artifact one: measured if committed, else predicted."""

import json
from pathlib import Path

from helix.models import load_hf_config
from helix.profiles.analytic import FitParams, FitResult, read_measured, write_predicted
from helix.profiles.store import write_profile
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
out_dir = Path(sm.output.prompt).parent
model, gpu = sm.wildcards.model, sm.params.gpu
with rule_log(sm) as log:
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
