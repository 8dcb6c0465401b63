"""Rule import_profiles: one (model, GPU) profile from the artifact into resources/profiles/."""

from pathlib import Path

from helix.profiles.store import canonical_gpu, import_profile
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
# A named local artifact comes as a param; the cloned copy is the folder of the rule's input COMMIT.
artifact = sm.params.artifact or str(Path(sm.input[0]).parent)
with rule_log(sm) as log:
    out = import_profile(artifact, sm.wildcards.model, canonical_gpu(sm.wildcards.gpu),
                         Path(sm.output.prompt).parent)
    print(f"wrote {out}", file=log)
