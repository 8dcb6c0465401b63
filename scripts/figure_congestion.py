"""Figure 10b: mean queueing delay per machine for each scheduler (helix.figures.congestion).

Thin: reads the figure's spec (params) and writes the PDF and PNG outputs; all logic is in helix.
"""

from helix.figures.script import run

run(snakemake, expect_kind="congestion")  # noqa: F821 - injected by Snakemake
