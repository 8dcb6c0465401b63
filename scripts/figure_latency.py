"""Figures 5e-h, 7c-f, 8b-c: latency boxes (p5/p25/p50/p75/p95 and mean) (helix.figures.latency).

Thin: reads the figure's spec (params) and writes the PDF and PNG outputs; all logic is in helix.
"""

from helix.figures.script import run

run(snakemake, expect_kind="latency")  # noqa: F821 - injected by Snakemake
