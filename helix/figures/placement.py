"""The placement picture of Fig. 9b: machines x layers, coloured by how busy the max-flow keeps them.

One panel per placement method. Each row is a machine (labelled with its GPU type and region),
its bar spans the layer range [start, end) it holds, and the colour is the share of that
machine's token capacity the max-flow uses (flow.json). Idle machines are a grey outline. Reading:
Helix packs layers so that most machines are dark (fully used); a heuristic placement leaves
light (under-used) bars, which is the throughput it loses.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cm, colors

from helix.figures import data, register, style
from helix.cluster import Cluster
from helix.layout import Layout

CMAP = "viridis_r"


def panel_table(panel: dict) -> list[dict]:
    """One row per machine of the cluster: name, GPU, region, layer range, flow, capacity, fraction."""
    cluster = Cluster.load(panel["cluster_yaml"])
    layout = Layout.load(panel["layout"])
    flow = data.load_flow(panel["flow"])
    usage = data.machine_usage(flow)
    rows = []
    for m in cluster.machines:
        rng = layout.ranges.get(m.name)
        f, cap = usage.get(m.name, (0.0, None))
        rows.append(
            {
                "machine": m.name,
                "gpu": m.gpu,
                "region": m.region,
                "start": None if rng is None else rng[0],
                "end": None if rng is None else rng[1],
                "flow": f,
                "capacity": cap,
                "fraction": (f / cap) if cap else None,
            }
        )
    return rows


@register("placement")
def build(spec: dict):
    style.apply_style()
    panels = spec["panels"]
    tables = [panel_table(p) for p in panels]
    flows = [data.load_flow(p["flow"]) for p in panels]
    have_caps = all(r["capacity"] for t in tables for r in t if r["start"] is not None)
    if have_caps:
        norm = colors.Normalize(0.0, 1.0)
        cbar_label = "share of machine capacity used by the max-flow"
    else:
        vmax = max((r["flow"] for t in tables for r in t), default=1.0) or 1.0
        norm = colors.Normalize(0.0, vmax)
        cbar_label = "max-flow through machine (tokens/s)"
    cmap = plt.get_cmap(CMAP)
    n = max(len(t) for t in tables)
    fig, axes = plt.subplots(
        1, len(panels), figsize=(3.0 * len(panels) + 1.0, 1.2 + 0.16 * n), sharey=True, squeeze=False
    )
    num_layers = [Layout.load(p["layout"]).num_layers for p in panels]
    for ax, panel, rows, flow, L in zip(axes[0], panels, tables, flows, num_layers):
        for y, r in enumerate(rows):
            if r["start"] is None:
                continue
            value = r["fraction"] if have_caps else r["flow"]
            (bar,) = ax.barh(
                y,
                r["end"] - r["start"],
                left=r["start"],
                height=0.8,
                color=cmap(norm(value or 0.0)),
                edgecolor="black",
                linewidth=0.3,
            )
            bar.set_gid(f"{panel['method']}|{r['machine']}")
        ax.set_yticks(range(len(rows)), [f"{r['machine']} {r['gpu']}" for r in rows], fontsize=6)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, L)
        ax.set_xlabel("layer index")
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", visible=False)
        max_flow = flow.get("max_flow")
        if max_flow is not None and float(max_flow) == 0.0:
            ax.text(
                L / 2,
                len(rows) / 2,
                "no complete route\n(max-flow 0)",
                ha="center",
                va="center",
                fontsize=8,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
            )
        title = (
            panel["label"]
            if max_flow is None
            else f"{panel['label']}\nmax-flow {float(max_flow):.0f} tokens/s"
        )
        ax.set_title(title, color=style.method_color(panel["method"]))
        # region separators
        regions = [r["region"] for r in rows]
        for y in range(1, len(rows)):
            if regions[y] != regions[y - 1]:
                ax.axhline(y - 0.5, color="grey", linewidth=0.6, linestyle="--")
    axes[0][0].set_ylabel("machine (GPU type)")
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    sm.set_array(np.array([]))
    fig.colorbar(sm, ax=axes[0].tolist(), label=cbar_label, fraction=0.03, pad=0.02)
    fig.suptitle(spec.get("title", ""), fontsize=10)
    return fig
