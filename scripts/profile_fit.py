"""Rule fit_analytic: fit the analytic model's efficiencies on every measured artifact profile."""

import sys

from helix.errors import HelixInputError
from helix.io import write_json
from helix.profiles.analytic import fit_artifact

sm = snakemake  # noqa: F821 - injected by Snakemake
with open(sm.log[0], "w") as log:
    try:
        result = fit_artifact(sm.params.artifact, sm.params.gpus)
        write_json(sm.output[0], result.as_dict())
        print(f"fit {result.params.as_dict()} on {len(result.trained_on)} profiles", file=log)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=log)
        sys.exit(f"error: {exc.one_line()}")
