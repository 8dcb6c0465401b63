"""The leave-one-GPU-type-out plot of the analytic profile model (rule validate_profiles)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable


def plot_validation(points, out_paths: Iterable[str | Path]) -> None:
    """Predicted vs measured per-layer time, one panel per GPU type, log-log, y = x dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helix.io import atomic_path

    gpus = list(dict.fromkeys(points["gpu"]))
    cols = min(4, len(gpus))
    rows = math.ceil(len(gpus) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    markers = {"prompt": "o", "decode": "s"}
    colors = {"llama70b": "tab:blue", "llama30b": "tab:orange"}
    for ax, gpu in zip(axes.flat, gpus):
        sub = points[points["gpu"] == gpu]
        for (model, phase), g in sub.groupby(["model", "phase"], sort=False):
            ax.scatter(
                g["measured_s"] * 1e3,
                g["predicted_s"] * 1e3,
                s=8,
                marker=markers.get(phase, "o"),
                color=colors.get(model),
                alpha=0.7,
                label=f"{model} {phase}",
            )
        lo = max(1e-2, float(min(sub["measured_s"].min(), sub["predicted_s"].min()) * 1e3 * 0.8))
        hi = float(max(sub["measured_s"].max(), sub["predicted_s"].max()) * 1e3 * 1.25)
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{gpu} (left out)", fontsize=9)
        ax.set_xlabel("measured time per layer (ms)", fontsize=8)
        ax.set_ylabel("predicted time per layer (ms)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(gpus) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, loc="upper left")
    fig.suptitle("Analytic profile model, leave-one-GPU-type-out", fontsize=10)
    fig.tight_layout()
    for path in out_paths:
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(
                tmp,
                format=path.suffix.lstrip(".") or "png",
                dpi=120,
                metadata={"CreationDate": None} if path.suffix == ".pdf" else None,
            )
    plt.close(fig)
