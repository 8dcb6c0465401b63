"""Grouped bars of decode throughput (Figs. 5a-d, 7a-b, 8a, 9a, 10a, 11a).

x groups are data sources or workloads (Simulation / Prototype, offline / online, clusters); one
bar per method inside a group, coloured by method and hatched by source. Where the paper printed
a value, a black diamond sits on the bar's centre line at that height, so the gap between ours
and the paper's reads directly. Each bar carries ``gid = "<group>|<method>"`` so tests and the
report can read the plotted numbers back.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helix.figures import register, style
from helix.figures.common import grouped_slots, item_metrics, legend_handles

BAR_WIDTH_TOTAL = 0.8


def table(spec: dict) -> pd.DataFrame:
    """The numbers the figure shows: one row per bar (value NaN where no data exists)."""
    rows = []
    for group in spec["groups"]:
        for item in group["items"]:
            m = item_metrics(item)
            value = None if m is None else m.get("decode_throughput_tps")
            rows.append(
                {
                    "group": group["label"],
                    "method": item["method"],
                    "label": item["label"],
                    "source": item["source"],
                    "value": float("nan") if value is None else float(value),
                    "paper": float("nan") if item.get("paper") is None else float(item["paper"]),
                }
            )
    return pd.DataFrame(rows)


@register("throughput")
def build(spec: dict):
    """Figure for a throughput spec (see :mod:`helix.figures.catalog`)."""
    style.apply_style()
    df = table(spec)
    groups = [g["label"] for g in spec["groups"]]
    n_methods = max((len(g["items"]) for g in spec["groups"]), default=1)
    width = BAR_WIDTH_TOTAL / max(n_methods, 1)
    fig, ax = plt.subplots(figsize=(max(style.FIG_WIDTH_IN, 1.3 + 0.45 * len(df)), style.FIG_HEIGHT_IN))
    top = float(pd.concat([df["value"], df["paper"]]).max(skipna=True) or 1.0)
    any_paper = False
    for x, item, row in grouped_slots(spec, df, width):
        if pd.isna(row["value"]):
            ax.text(x, 0.01 * top, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
        else:
            hollow = item["source"] == "paper-printed"
            color = style.method_color(item["method"])
            bars = ax.bar(
                x,
                row["value"],
                width * 0.95,
                color="white" if hollow else color,
                edgecolor=color if hollow else "black",
                linewidth=1.0 if hollow else 0.5,
                hatch=style.SOURCE_HATCH[item["source"]],
            )
            bars[0].set_gid(f"{row['group']}|{item['method']}")
            ax.text(x, row["value"] + 0.01 * top, f"{row['value']:.0f}", ha="center", va="bottom", fontsize=6)
        if not pd.isna(row["paper"]):
            any_paper = True
            (marker,) = ax.plot([x], [row["paper"]], **style.PAPER_MARKER)
            marker.set_gid(f"paper|{row['group']}|{item['method']}")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(spec.get("ylabel", style_label()))
    ax.set_ylim(0, top * 1.15)
    ax.set_title(spec.get("title", ""))
    methods = list(dict.fromkeys((i["method"], i["label"]) for g in spec["groups"] for i in g["items"]))
    sources = [i["source"] for g in spec["groups"] for i in g["items"] if i["source"] != "missing"]
    ax.legend(
        handles=legend_handles(methods, sources, any_paper),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    fig.tight_layout()
    return fig


def style_label() -> str:
    return "Decode throughput (tokens/s)"
