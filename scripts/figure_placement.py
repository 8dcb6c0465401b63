"""Figure 9b: machines x layers of each placement, coloured by used capacity (helix.figures.placement).

Thin: reads the figure's spec (params) and writes the PDF and PNG outputs; all logic is in helix.
"""

from helix.figures.script import run

run(snakemake, expect_kind="placement")  # noqa: F821 - injected by Snakemake
