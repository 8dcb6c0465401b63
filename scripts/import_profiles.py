"""Rule import_profiles: one (model, GPU) profile from the artifact into resources/profiles/."""

from pathlib import Path

from helix.profiles.store import canonical_gpu, import_profile
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
artifact = sm.params.artifact  # the root, whichever way it came (helix.artifact.source)
with rule_log(sm) as log:
    out = import_profile(
        artifact, sm.wildcards.model, canonical_gpu(sm.wildcards.gpu), Path(sm.output.prompt).parent
    )
    print(f"wrote {out}", file=log)
