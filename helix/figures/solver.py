"""Solver traces (Figs. 11b and 12): incumbent objective and best bound over log-scaled time.

Solid steps = best objective found so far (the max-flow of the best placement, tokens/s); dashed
steps of the same colour = the solver's proven upper bound. Where the bound is far above the
objective (MILP bounds of this formulation are loose, docs/design/placement.md s9) the y axis is cut at a few
times the best objective and the off-scale bound is printed in the corner. A dotted black line
marks the objective the paper reported. Each objective line carries ``gid = "objective|<key>"``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from helix.figures import data, register, style

BOUND_CLIP = 3.0  # show the bound up to this many times the best objective
MIN_SECONDS = 0.01  # log axis: times of zero are drawn at this value


def _color(key: str, i: int) -> str:
    if key in style.VARIANT_COLORS:
        return style.VARIANT_COLORS[key]
    return style.method_color(key) if i == 0 else ["#000000", "#56B4E9", "#009E73"][i % 3]


@register("solver")
def build(spec: dict):
    style.apply_style()
    panels = spec["panels"]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels) + 1.2, style.FIG_HEIGHT_IN + 0.8), squeeze=False
    )
    for ax, panel in zip(axes[0], panels):
        best = 0.0
        bound_max = 0.0
        for i, s in enumerate(panel["series"]):
            df = data.load_trace(s["path"])
            t = np.maximum(df["seconds"].to_numpy(float), MIN_SECONDS)
            obj = df["objective"].to_numpy(float)
            color = _color(s["key"], i)
            # a dot on every incumbent: a solver that reports only its final layout (CP-SAT) is
            # one point, which a step line alone would not draw
            (line,) = ax.step(
                t,
                obj,
                where="post",
                color=color,
                linewidth=1.4,
                marker="o",
                markersize=3,
                label=f"{s['label']}: objective",
            )
            line.set_gid(f"objective|{s['key']}")
            bound = df["bound"].to_numpy(float)
            if np.isfinite(bound).any():
                (bl,) = ax.step(
                    t,
                    bound,
                    where="post",
                    color=color,
                    linewidth=1.0,
                    linestyle="--",
                    label=f"{s['label']}: bound",
                )
                bl.set_gid(f"bound|{s['key']}")
                bound_max = max(bound_max, float(np.nanmax(bound)))
            if len(obj):
                best = max(best, float(np.nanmax(obj)))
        paper = panel.get("paper")
        if paper:
            ax.axhline(
                paper, color="black", linestyle=":", linewidth=1.0, label=f"paper's objective ({paper:.1f})"
            )
            best = max(best, float(paper))
        ax.set_xscale("log")
        ax.set_xlabel("solver time (s, log scale)")
        ax.set_ylabel("objective: max-flow (tokens/s)")
        clip = best * BOUND_CLIP if best > 0 else (bound_max or 1.0)
        if bound_max > clip:
            ax.set_ylim(0, clip)
            ax.text(
                0.98,
                0.97,
                f"bound off-scale (max {bound_max:.3g})",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=6.5,
            )
        else:
            ax.set_ylim(0, max(best, bound_max, 1e-9) * 1.12)
        ax.set_title(panel.get("title", ""))
    # one legend for the figure (the series are the same in every panel; the paper's line differs
    # in value only, so each panel's is labelled in the legend once per panel)
    handles: dict = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.suptitle(spec.get("title", ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.1 + 0.035 * ((len(handles) + 1) // 2), 1, 1))
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=2, fontsize=6.5, frameon=False)
    return fig
