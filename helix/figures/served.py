"""Figures beyond the paper for the serving-aware planner (issue 13).

* ``validation_figure``: the served-throughput estimate against the simulated offline decode
  throughput of every validated layout, max-flow against the same beside it, one colour per cluster
  (rule estimator_validation, helix/planning/validation.py).
* ``comparison_figure``: per cluster, the paper's layout, the max-flow planner (helix-maxflow) and
  the serving-aware planner (helix): max-flow, and the simulated decode throughput offline and
  online (helix scheduler), every layout simulated through our own-layout path (helix.sim.graph; the
  paper's as ``paper-helix@graph``), so the bars compare layouts, not placement graphs
  (docs/metrics.md "One placement graph per layout").

Records ``served_validation`` and ``served_throughput`` in helix.figures.catalog (target
``served``); their builders are :func:`build_validation` and :func:`build_comparison`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from helix.figures import register  # noqa: E402
from helix.figures.common import FigureTable  # noqa: E402
from helix.placement.names import on_graph_path  # noqa: E402

CLUSTER_COLORS = {"single24": "#1f77b4", "geo24": "#d62728", "hetero42": "#2ca02c"}
MODEL_MARKERS = {"llama70b": "o", "llama30b": "^"}
PAPER_LAYOUT = on_graph_path("paper-helix")
LAYOUT_LABELS = {
    PAPER_LAYOUT: "paper's layout",
    "helix-maxflow": "helix-maxflow (max-flow planner)",
    "helix": "helix (serving-aware)",
}
LAYOUT_COLORS = {PAPER_LAYOUT: "#7f7f7f", "helix-maxflow": "#ff7f0e", "helix": "#1f77b4"}


# the columns of results/tables/served_throughput.csv
COMPARISON_COLUMNS = ["cluster", "layout", "max_flow", "offline", "online", "rate", "estimate_online"]


@register("served_validation")
def build_validation(spec: dict):
    """``spec``: ``path`` (estimator_validation.csv) and ``summary`` (its JSON)."""
    import json

    from helix.planning.validation import read_rows

    with open(spec["summary"]) as f:
        summary = json.load(f)
    return validation_figure(read_rows(spec["path"]), summary)


@register("served_throughput")
def build_comparison(spec: dict):
    """``spec``: the comparison's input files; with ``model`` (config entry), ``model_json`` and
    ``gpus`` also the served estimate's verdict on each online rate (profiles from resources/)."""
    from helix.planning.workflow import comparison_table

    model = profiles = None
    if spec.get("model"):
        from helix.models import load_hf_config
        from helix.profiles.entry import model_profiles
        from helix.profiles.store import ProfileStore

        entry = spec["model"]
        model = load_hf_config(
            spec["model_json"],
            spec["model_key"],
            param_bytes_per_layer_override=entry.get("param_bytes_per_layer"),
        )
        profiles = model_profiles(model, spec["gpus"], ProfileStore("resources/profiles"))
    table = comparison_table(".", model, profiles)
    return FigureTable(comparison_figure(table), table, COMPARISON_COLUMNS)


def validation_figure(rows: Sequence[dict], summary: dict):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, key, label in (
        (axes[0], "estimate", "served-throughput estimate (tok/s)"),
        (axes[1], "max_flow", "max-flow (tok/s)"),
    ):
        for r in rows:
            ax.scatter(
                r["simulated"],
                r[key],
                s=22,
                color=CLUSTER_COLORS.get(r["cluster"], "black"),
                marker=MODEL_MARKERS.get(r["model"], "s"),
                edgecolor="black",
                linewidth=0.3,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1, 2, 5 x 10^n, no crowded minor labels
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("simulated offline decode throughput (tok/s)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        stat = "spearman_estimate" if key == "estimate" else "spearman_max_flow"
        pairs = "pairs_ordered_estimate" if key == "estimate" else "pairs_ordered_max_flow"
        lines = []
        for c in CLUSTER_COLORS:
            s = summary.get(c)
            if s:
                rho = s[stat]
                lines.append(
                    f"{c}: Spearman {rho:.3f}, pairs {s[pairs]}/{s['pairs']}"
                    if rho is not None
                    else f"{c}: -"
                )
        ax.set_title(("estimate" if key == "estimate" else "max-flow") + " vs simulation")
        ax.text(
            0.02,
            0.98,
            "\n".join(lines),
            transform=ax.transAxes,
            va="top",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
        )
    if key == "estimate":
        lo = min(min(r["simulated"], r["estimate"]) for r in rows)
        hi = max(max(r["simulated"], r["estimate"]) for r in rows)
        axes[0].plot([lo, hi], [lo, hi], color="black", linewidth=0.6, linestyle=":")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], linestyle="", marker="o", color=col, label=c) for c, col in CLUSTER_COLORS.items()
    ]
    handles += [
        Line2D([], [], linestyle="", marker=mk, color="black", markerfacecolor="white", label=m)
        for m, mk in MODEL_MARKERS.items()
    ]
    fig.legend(
        handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.04)
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def comparison_figure(table: Sequence[dict]):
    """``table``: rows {cluster, layout, max_flow, offline, online, rate} (None where missing)."""
    clusters = list(dict.fromkeys(r["cluster"] for r in table))
    fig, axes = plt.subplots(2, len(clusters), figsize=(4.2 * len(clusters), 6.4), squeeze=False)
    for ci, c in enumerate(clusters):
        rows = [r for r in table if r["cluster"] == c]
        names = [r["layout"] for r in rows]
        x = range(len(rows))
        ax = axes[0][ci]
        ax.bar(
            list(x),
            [r["max_flow"] or 0 for r in rows],
            color=[LAYOUT_COLORS.get(n, "gray") for n in names],
            edgecolor="black",
            linewidth=0.5,
        )
        ax.set_xticks(list(x), [n for n in names], fontsize=8)
        ax.set_ylabel("max-flow (tok/s)")
        ax.set_title(c)
        ax = axes[1][ci]
        w = 0.38
        off = [r["offline"] or 0 for r in rows]
        on = [r["online"] or 0 for r in rows]
        ax.bar(
            [i - w / 2 for i in x],
            off,
            w,
            color=[LAYOUT_COLORS.get(n, "gray") for n in names],
            edgecolor="black",
            linewidth=0.5,
            label="offline",
        )
        ax.bar(
            [i + w / 2 for i in x],
            on,
            w,
            color=[LAYOUT_COLORS.get(n, "gray") for n in names],
            edgecolor="black",
            linewidth=0.5,
            hatch="///",
            label="online",
        )
        for i, r in enumerate(rows):
            for dx, v in ((-w / 2, r["offline"]), (w / 2, r["online"])):
                ax.text(
                    i + dx,
                    (v or 0),
                    "missing" if v is None else f"{v:.0f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
            est = r.get("estimate_online")
            if est is not None:  # the served estimate's verdict on the online rate
                ax.text(
                    i + w / 2,
                    0,
                    "est.\nsaturated" if est == "saturated" else f"est.\n{est:.0f}",
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    color="white" if (r["online"] or 0) > 0 else "black",
                )
        rate = next((r["rate"] for r in rows if r.get("rate")), None)
        ax.set_xticks(list(x), [n for n in names], fontsize=8)
        ax.set_ylabel("simulated decode throughput (tok/s)")
        ax.set_title(f"{c}: offline | online at {rate:g} tok/s (hatched)" if rate else c, fontsize=9)
    fig.suptitle(
        "Max-flow vs served throughput, LLaMA-2 70B, helix scheduler (every layout simulated through our "
        "layout path, helix.sim.graph; est. = the served estimate at the online rate)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
