"""Figures and tables of the paper's evaluation, drawn from metric files only.

``catalog`` holds one record per figure (what it shows, which files it reads, its builder, report
section and gallery membership); one module per figure family draws it (``throughput``,
``latency``, ``placement``, ``congestion``, ``solver``); ``tables`` and ``reproduction`` build the
CSV tables. Builders are registered by kind in :data:`FIGURE_BUILDERS` (helix.registry): a new
family is one module in this package with ``@register("kind")`` on its ``build(spec)``.
:func:`render` is what the figure rule's script calls.
"""

from __future__ import annotations

from pathlib import Path

from helix.registry import Registry

FIGURE_BUILDERS: Registry = Registry("figure builder", package=__name__, source="figure spec", field="kind")
register = FIGURE_BUILDERS.register


def build_figure(spec: dict):
    """The matplotlib Figure (or, for a table, the DataFrame) for a spec (not saved)."""
    return FIGURE_BUILDERS.get(spec["kind"])(spec)


build_table = build_figure


def render(spec: dict, outputs: list[str | Path]) -> None:
    """Draw a spec into its outputs: ``[pdf, png]`` for figures, ``[csv]`` for tables, and
    ``[pdf, png, csv]`` for a figure with its table (a builder returning a FigureTable)."""
    from helix.figures.common import FigureTable, save_figure, write_rows
    from helix.figures.tables import write_csv

    result = build_figure(spec)
    if hasattr(result, "to_csv"):
        write_csv(result, outputs[0])
        return
    if isinstance(result, FigureTable):
        write_rows(result.rows, result.columns, next(str(o) for o in outputs if str(o).endswith(".csv")))
        result = result.figure
    pdf = next(str(o) for o in outputs if str(o).endswith(".pdf"))
    png = next((str(o) for o in outputs if str(o).endswith(".png")), None)
    save_figure(result, pdf, png)
