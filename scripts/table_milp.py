"""Table 8: MILP rows, columns and nonzeros with and without cluster pruning (helix.figures.tables)."""

from helix.figures.script import run

run(snakemake, expect_kind="table8")  # noqa: F821 - injected by Snakemake
