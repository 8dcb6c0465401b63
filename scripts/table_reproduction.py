"""results/tables/reproduction.csv: every printed paper value next to ours (helix.figures.reproduction)."""

from helix.figures.script import run

run(snakemake, expect_kind="reproduction")  # noqa: F821 - injected by Snakemake
