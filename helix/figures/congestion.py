"""Per-machine congestion bars of Fig. 10b: mean queueing delay at each machine, per scheduler.

Machines on x (cluster order as congestion.csv lists them), one bar per scheduler, coloured as
that scheduler everywhere else. Tall bars are hot spots: the paper's point is that the heuristic
schedulers pile requests onto a few machines while Helix's flow-proportional routing keeps every
queue short. Bars carry ``gid = "<method>|<machine>"``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from helix.figures import data, register, style
from helix.figures.common import legend_handles


def table(spec: dict) -> pd.DataFrame:
    """Long table: method, machine, value (the spec's metric) for every machine row."""
    metric = spec.get("metric", "mean_queue_delay_s")
    frames = []
    for s in spec["series"]:
        df = data.load_congestion(s["path"])
        df = df[df["kind"].astype(str).str.lower().isin(["machine", "node", "compute"])]  # not links
        if metric not in df.columns:
            from helix.errors import HelixInputError

            raise HelixInputError(s["path"], metric, "column missing")
        gpu = df["gpu"].fillna("").astype(str).values if "gpu" in df.columns else [""] * len(df)
        frames.append(
            pd.DataFrame(
                {
                    "method": s["method"],
                    "machine": df["name"].values,
                    "gpu": gpu,
                    "value": df[metric].astype(float).values,
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["method", "machine", "gpu", "value"])
    )


def _order(names: list[str]) -> list[str]:
    def key(n: str):
        digits = "".join(ch for ch in n if ch.isdigit())
        return (0, int(digits), n) if digits else (1, 0, n)

    return sorted(dict.fromkeys(names), key=key)


@register("congestion")
def build(spec: dict):
    style.apply_style()
    df = table(spec)
    machines = _order(df["machine"].tolist())
    series = spec["series"]
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(
        figsize=(
            max(style.FIG_WIDTH_IN, 1.5 + 0.11 * len(machines) * max(len(series), 2)),
            style.FIG_HEIGHT_IN,
        )
    )
    pos = {m: i for i, m in enumerate(machines)}
    for j, s in enumerate(series):
        sub = df[df["method"] == s["method"]]
        xs = [pos[m] + (j - (len(series) - 1) / 2) * width for m in sub["machine"]]
        bars = ax.bar(
            xs,
            sub["value"],
            width * 0.95,
            color=style.method_color(s["method"]),
            edgecolor="black",
            linewidth=0.3,
        )
        for bar, m in zip(bars, sub["machine"]):
            bar.set_gid(f"{s['method']}|{m}")
    gpu_of = dict(zip(df["machine"], df["gpu"]))
    ticks = [f"{m.removeprefix('compute_node_')} {gpu_of.get(m, '')}".strip() for m in machines]
    ax.set_xticks(range(len(machines)), ticks, rotation=90, fontsize=6)
    ax.set_xlabel("machine")
    ax.set_ylabel(spec.get("ylabel", "Mean queueing delay (s)"))
    ax.set_title(spec.get("title", ""))
    ax.legend(
        handles=legend_handles([(s["method"], s["label"]) for s in series], [], False),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title="scheduler",
    )
    fig.tight_layout()
    return fig
