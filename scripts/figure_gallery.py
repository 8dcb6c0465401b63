"""Rule `gallery`: small copies of the main figures for the README (docs/gallery/)."""

from helix.figures.gallery import shrink_all
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    for (src, dst), size in zip(zip(sm.input, sm.output), shrink_all(list(zip(sm.input, sm.output)))):
        print(f"{dst}: {size} bytes", file=log)
