"""Figures and tables of the paper's evaluation, drawn from metric files only.

``catalog`` says what each figure shows and which files it reads; one module per figure family
draws it (``throughput``, ``latency``, ``placement``, ``congestion``, ``solver``); ``tables`` and
``reproduction`` write the CSV tables. :func:`render` is what the thin Snakemake scripts call.
A new figure family is one module with ``build(spec) -> Figure`` plus one line in ``BUILDERS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

BUILDERS = {
    "throughput": "helix.figures.throughput",
    "latency": "helix.figures.latency",
    "placement": "helix.figures.placement",
    "congestion": "helix.figures.congestion",
    "solver": "helix.figures.solver",
}
TABLES = {
    "table8": ("helix.figures.tables", "table8"),
    "reproduction": ("helix.figures.reproduction", "reproduction"),
}


def build_figure(spec: dict):
    """The matplotlib Figure for a figure spec (not saved)."""
    kind = spec["kind"]
    if kind not in BUILDERS:
        raise KeyError(f"unknown figure kind {kind!r}; known: {sorted(BUILDERS)}")
    return importlib.import_module(BUILDERS[kind]).build(spec)


def build_table(spec: dict):
    module, func = TABLES[spec["kind"]]
    return getattr(importlib.import_module(module), func)(spec)


def render(spec: dict, outputs: list[str | Path]) -> None:
    """Draw a spec into its outputs: ``[pdf, png]`` for figures, ``[csv]`` for tables."""
    from helix.figures.common import save_figure
    from helix.figures.tables import write_csv

    if spec["kind"] in TABLES:
        write_csv(build_table(spec), outputs[0])
        return
    fig = build_figure(spec)
    pdf = next(str(o) for o in outputs if str(o).endswith(".pdf"))
    png = next((str(o) for o in outputs if str(o).endswith(".png")), None)
    save_figure(fig, pdf, png)
