"""Rule predict_profile: a (model, GPU) profile the artifact lacks.

The committed measurement, else predicted.
"""

import json
from pathlib import Path

from helix.errors import HelixInputError
from helix.models import load_hf_config
from helix.profiles.entry import gpu_machine_spec
from helix.profiles.fit import FitResult
from helix.profiles.measured import read_measured
from helix.profiles.predict import write_predicted
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
        fit = FitResult.from_dict(json.loads(Path(sm.input.fit).read_text()))
        spec = load_hf_config(
            sm.params.config_json, model, param_bytes_per_layer_override=sm.params.param_bytes_per_layer
        )
        machine = gpu_machine_spec(gpu, sm.params.gpu_entry)
        if machine is None:
            raise HelixInputError(
                "config",
                f"gpus.{gpu}.peak_flops",
                "missing: no measured profile of this GPU type, so set its datasheet "
                "fields (peak_flops, mem_bandwidth) to predict one",
                None,
            )
        write_predicted(out_dir, spec, model, machine, fit, fit_file=str(sm.input.fit))
        print(f"predicted {model} on {gpu} with {fit.params.as_dict()}", file=log)
