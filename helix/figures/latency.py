"""Latency distributions as boxes (Figs. 5e-h, 7c-f, 8b-c).

Box = 25th to 75th percentile, line = median, whiskers = 5th and 95th percentiles, white dot =
mean: exactly the five percentiles and the mean that metrics.json holds (docs/design/simulator.md s6), so no
raw samples are needed. The paper's printed percentiles are drawn right of each box as a thin
black line from p5 to p95 with a diamond at the median. Each box's median line carries
``gid = "<group>|<method>"``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helix.figures import register, style
from helix.figures.common import grouped_slots, item_metrics, legend_handles

STATS = ("p5", "p25", "p50", "p75", "p95", "mean")


def table(spec: dict) -> pd.DataFrame:
    """One row per box: the five percentiles and the mean (NaN where absent)."""
    metric = spec["metric"]
    rows = []
    for group in spec["groups"]:
        for item in group["items"]:
            m = item_metrics(item)
            summary = (m or {}).get(metric) or {}
            row = {
                "group": group["label"],
                "method": item["method"],
                "label": item["label"],
                "source": item["source"],
            }
            for s in STATS:
                v = summary.get(s)
                row[s] = float("nan") if v is None else float(v)
            paper = item.get("paper") or {}
            for s in STATS[:5]:
                v = paper.get(s)
                row[f"paper_{s}"] = float("nan") if v is None else float(v)
            rows.append(row)
    return pd.DataFrame(rows)


@register("latency")
def build(spec: dict):
    style.apply_style()
    df = table(spec)
    n_groups = len(spec["groups"])
    n_items = max((len(g["items"]) for g in spec["groups"]), default=1)
    width = 0.8 / max(n_items, 1)
    fig, ax = plt.subplots(figsize=(max(style.FIG_WIDTH_IN, 1.5 + 0.55 * len(df)), style.FIG_HEIGHT_IN))
    any_paper = False
    for x, item, row in grouped_slots(spec, df, width):
        if not pd.isna(row["p50"]):
            color = style.method_color(item["method"])
            stats = {
                "med": row["p50"],
                "q1": row["p25"],
                "q3": row["p75"],
                "whislo": row["p5"],
                "whishi": row["p95"],
                "fliers": [],
            }
            if not pd.isna(row["mean"]):
                stats["mean"] = row["mean"]
            hollow = item["source"] == "paper-printed"
            art = ax.bxp(
                [stats],
                positions=[x - 0.12 * width],
                widths=width * 0.55,
                showfliers=False,
                showmeans="mean" in stats,
                patch_artist=True,
                boxprops={
                    "facecolor": "white" if hollow else color,
                    "edgecolor": color if hollow else "black",
                    "hatch": style.SOURCE_HATCH[item["source"]],
                    "linewidth": 0.6,
                },
                medianprops={"color": "black", "linewidth": 1.2},
                meanprops={
                    "marker": "o",
                    "markerfacecolor": "white",
                    "markeredgecolor": "black",
                    "markersize": 3.5,
                },
                whiskerprops={"linewidth": 0.8},
                capprops={"linewidth": 0.8},
                manage_ticks=False,
            )
            art["medians"][0].set_gid(f"{row['group']}|{item['method']}")
        else:
            ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
        if not pd.isna(row["paper_p50"]):
            any_paper = True
            xp = x + 0.28 * width
            ax.plot([xp, xp], [row["paper_p5"], row["paper_p95"]], color="black", linewidth=0.8, zorder=4)
            ax.plot([xp, xp], [row["paper_p25"], row["paper_p75"]], color="black", linewidth=2.2, zorder=4)
            (marker,) = ax.plot([xp], [row["paper_p50"]], **style.PAPER_MARKER)
            marker.set_gid(f"paper|{row['group']}|{item['method']}")
    ax.set_xticks(range(n_groups), [g["label"] for g in spec["groups"]])
    ax.set_xlim(-0.6, n_groups - 0.4)
    ax.set_ylabel(spec["ylabel"])
    ax.set_ylim(bottom=0)
    ax.set_title(spec.get("title", ""))
    methods = list(dict.fromkeys((i["method"], i["label"]) for g in spec["groups"] for i in g["items"]))
    sources = [i["source"] for g in spec["groups"] for i in g["items"] if i["source"] != "missing"]
    handles = legend_handles(methods, sources, any_paper)
    if any_paper:
        handles[-1].set_label("paper (p5-p95, p25-p75, median)")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.text(
        1.02,
        0.0,
        "box: p25-p75, line: median,\nwhiskers: p5-p95, dot: mean",
        transform=ax.transAxes,
        fontsize=6.5,
        va="bottom",
    )
    fig.tight_layout()
    return fig
