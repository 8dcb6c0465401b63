"""Shared plumbing of the figure builders: resolving an item's numbers, legends, saving.

Saving is deterministic (no timestamps in the PDF or PNG metadata) and atomic, so rerunning a
figure rule on the same inputs gives byte-identical files and a failed run leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from helix.figures import data, style
from helix.io import atomic_path


@dataclass
class FigureTable:
    """What a builder of a record with ``with_table`` returns: the figure and the table of the
    numbers it draws (``rows`` with ``columns``; written to results/tables/<name>.csv)."""

    figure: object
    rows: list[dict]
    columns: Sequence[str]


def write_rows(rows: Sequence[dict], columns: Sequence[str], path: str | Path) -> None:
    """A CSV of ``rows`` (``columns`` in order, None as empty), written atomically."""
    import csv
    import io

    from helix.io import write_text

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def item_metrics(item: dict) -> dict | None:
    """The metrics dict behind one bar or box: its file, or the printed value for paper-printed."""
    if item["source"] == "missing":
        return None
    if item.get("path"):
        return data.load_metrics(item["path"])
    value = item.get("value")
    if isinstance(value, dict):
        return {"decode_throughput_tps": None, "prompt_latency_s": value, "decode_latency_s": value}
    return {"decode_throughput_tps": value, "prompt_latency_s": None, "decode_latency_s": None}


def legend_handles(methods: list[tuple[str, str]], sources: list[str], paper: bool) -> list:
    """Proxy artists: one colour per method, one hatch per data source, the paper marker."""
    handles = [
        Patch(facecolor=style.method_color(key), edgecolor="black", linewidth=0.5, label=label)
        for key, label in methods
    ]
    if len(set(sources)) > 1 or (sources and sources[0] != "sim"):
        for s in dict.fromkeys(sources):
            handles.append(
                Patch(
                    facecolor="white",
                    edgecolor="black",
                    hatch=style.SOURCE_HATCH[s],
                    linewidth=0.5,
                    label=style.SOURCE_LABELS[s],
                )
            )
    if paper:
        handles.append(Line2D([], [], label=style.PAPER_LABEL, **style.PAPER_MARKER))
    return handles


def save_figure(fig, pdf: str | Path, png: str | Path | None = None) -> None:
    """Write PDF (and PNG) without timestamps, atomically."""
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None})
    if png is not None:
        with atomic_path(png) as tmp:
            fig.savefig(
                tmp, format="png", dpi=style.PNG_DPI, bbox_inches="tight", metadata={"Software": None}
            )
    plt.close(fig)


def grouped_slots(spec: dict, df, width: float):
    """Yield (x, item, row) for every item of every group: items centred on their group's index.

    Throughput bars and latency boxes share this layout so a method sits at the same x in both.
    """
    for gi, group in enumerate(spec["groups"]):
        k = len(group["items"])
        for j, item in enumerate(group["items"]):
            row = df[(df["group"] == group["label"]) & (df["method"] == item["method"])].iloc[0]
            yield gi + (j - (k - 1) / 2) * width, item, row
