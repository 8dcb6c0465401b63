"""Custom runs: every simulation of an experiment that draws no paper figure, as a table and a bar chart.

The paper's figures are a fixed catalogue; what a user adds (a new model, GPU or cluster, the
``whatif`` experiment) would otherwise reach no figure and no report. ``custom_runs`` lists those
runs from the config (experiments without ``figures:``); the table holds their metrics and, per run,
which GPU types' profiles were predicted (from the run's meta.json); the chart draws decode
throughput per run and marks the runs that rest on predicted profiles (hatched bar, "predicted:"
in the label), so a prediction is never read as a measurement. Record ``custom_runs`` in
helix.figures.catalog; builder :func:`build` (the table is written beside the chart).
"""

from __future__ import annotations

import json
from pathlib import Path

from helix.figures import register
from helix.sim.experiments import SIM_ROOT, run_key

COLUMNS = (
    "run",
    "cluster",
    "model",
    "method",
    "scheduler",
    "mode",
    "decode_throughput_tps",
    "prompt_latency_p50_s",
    "decode_latency_mean_s",
    "max_flow_tps",
    "predicted_gpus",
    "measured_gpus",
)


def custom_runs(cfg) -> list[str]:
    """Result keys of the simulations of experiments that list no figure, in config order, once each."""
    keys: list[str] = []
    for exp in cfg.experiments.values():
        if exp.figures:
            continue
        for s in exp.simulations:
            key = run_key(s.cluster, s.model, s.method, s.scheduler, s.mode)
            if key not in keys:
                keys.append(key)
    return keys


def run_files(keys) -> list[str]:
    return [f"{SIM_ROOT}/{k}/{name}" for k in keys for name in ("metrics.json", "meta.json")]


def _round(value, digits: int):
    return None if value is None else round(float(value), digits)


def rows(keys, root: str | Path = ".") -> list[dict]:
    """One row per run from its metrics.json and meta.json (profile sources per GPU type)."""
    out = []
    for key in keys:
        d = Path(root) / SIM_ROOT / key
        m = json.loads((d / "metrics.json").read_text())
        profiles = json.loads((d / "meta.json").read_text()).get("profiles") or {}
        predicted = sorted(
            g for g, p in profiles.items() if (p.get("profile") or {}).get("source") == "predicted"
        )
        measured = sorted(g for g in profiles if g not in predicted)
        cluster, model, method, scheduler, mode = key.split("/")
        out.append(
            {
                "run": key,
                "cluster": cluster,
                "model": model,
                "method": method,
                "scheduler": scheduler,
                "mode": mode,
                "decode_throughput_tps": _round(m.get("decode_throughput_tps"), 2),
                "prompt_latency_p50_s": _round((m.get("prompt_latency_s") or {}).get("p50"), 4),
                "decode_latency_mean_s": _round((m.get("decode_latency_s") or {}).get("mean"), 4),
                "max_flow_tps": _round(m.get("max_flow"), 2),
                "predicted_gpus": " ".join(predicted),
                "measured_gpus": " ".join(measured),
            }
        )
    return out


@register("custom_runs")
def build(spec: dict):
    """The chart and its table for the runs of ``spec["runs"]`` (result keys)."""
    from helix.figures.common import FigureTable

    table = rows(spec["runs"])
    return FigureTable(plot(table), table, COLUMNS)


def plot(table_rows: list[dict]):
    """Horizontal bars of decode throughput per run; runs on predicted profiles hatched and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from helix.figures.style import method_color

    n = max(1, len(table_rows))
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * n + 1.4))
    labels = []
    for i, r in enumerate(table_rows):
        predicted = r["predicted_gpus"]
        ax.barh(
            i,
            r["decode_throughput_tps"] or 0.0,
            color=method_color(r["method"]),
            edgecolor="black",
            linewidth=0.6,
            hatch="//" if predicted else None,
        )
        label = f"{r['cluster']} / {r['model']} / {r['method']} / {r['scheduler']} / {r['mode']}"
        labels.append(label + (f"\n(predicted: {predicted})" if predicted else ""))
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("decode throughput (tokens/s)")
    ax.set_ylabel("run: cluster / model / method / scheduler / mode")
    ax.set_title("Custom runs (experiments without a paper figure)", fontsize=9)
    ax.legend(
        handles=[
            Patch(facecolor="white", edgecolor="black", label="all GPU profiles measured"),
            Patch(facecolor="white", edgecolor="black", hatch="//", label="some GPU profiles predicted"),
        ],
        fontsize=7,
        loc="lower right",
    )
    if not table_rows:
        ax.text(0.5, 0.5, "no custom runs configured", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig
