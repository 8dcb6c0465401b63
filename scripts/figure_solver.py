"""Figures 11b and 12: MILP objective and bound over log-scaled solver time (helix.figures.solver).

Thin: reads the figure's spec (params) and writes the PDF and PNG outputs; all logic is in helix.
"""

from helix.figures.script import run

run(snakemake, expect_kind="solver")  # noqa: F821 - injected by Snakemake
