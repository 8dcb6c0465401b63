"""Rule `gallery`: small copies of the main figures for the README (docs/gallery/)."""

from helix.figures.gallery import shrink_all

sm = snakemake  # noqa: F821 - injected by Snakemake
with open(sm.log[0], "w") as log:
    for src, dst in zip(sm.input, sm.output):
        size = shrink_all([(src, dst)])[0]
        print(f"{dst}: {size} bytes", file=log)
