"""Figures 5a-d, 7a-b, 8a, 9a, 10a, 11a: grouped decode-throughput bars (helix.figures.throughput).

Thin: reads the figure's spec (params) and writes the PDF and PNG outputs; all logic is in helix.
"""

from helix.figures.script import run

run(snakemake, expect_kind="throughput")  # noqa: F821 - injected by Snakemake
