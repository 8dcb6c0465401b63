"""Rule import_profiles: one (model, GPU) profile from the artifact into resources/profiles/."""

import sys
from pathlib import Path

from helix.errors import HelixInputError
from helix.profiles.store import canonical_gpu, import_profile

sm = snakemake  # noqa: F821 - injected by Snakemake
# A named local artifact comes as a param; the cloned copy is the folder of the rule's input COMMIT.
artifact = sm.params.artifact or str(Path(sm.input[0]).parent)
with open(sm.log[0], "w") as log:
    try:
        out = import_profile(artifact, sm.wildcards.model, canonical_gpu(sm.wildcards.gpu),
                             Path(sm.output.prompt).parent)
        print(f"wrote {out}", file=log)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=log)
        sys.exit(f"error: {exc.one_line()}")
