"""Rule fit_analytic: fit the analytic model's efficiencies on every measured artifact profile."""

from helix.io import write_json
from helix.profiles.fit import fit_artifact
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    result = fit_artifact(sm.params.artifact, sm.params.gpus)
    write_json(sm.output[0], result.as_dict())
    print(f"fit {result.params.as_dict()} on {len(result.trained_on)} profiles", file=log)
