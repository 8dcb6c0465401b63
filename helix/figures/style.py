"""One look for every figure: a fixed colour per method, hatching per data source, paper markers.

Why a module of its own: a reader compares Figure 5 with Figure 8 by colour, so "Helix" must be
the same vermillion everywhere, whether it names a placement method (Fig. 5) or a scheduler
(Fig. 10). Colours are the Okabe-Ito colour-blind-safe palette. ``paper-<method>`` (the authors'
layout) and ablation variants (``<method>-<variant>``) take their base method's colour unless a
variant colour is given.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from helix.placement.names import paper_method  # noqa: E402

METHOD_COLORS: dict[str, str] = {
    "helix": "#D55E00",  # vermillion
    "swarm": "#0072B2",  # blue
    "separate": "#009E73",  # bluish green
    "sp_plus": "#CC79A7",  # reddish purple
    "petals": "#E69F00",  # orange
    "random": "#56B4E9",  # sky blue
    "shortest_queue": "#7F7F7F",  # grey
}

METHOD_LABELS: dict[str, str] = {
    "helix": "Helix",
    "swarm": "Swarm",
    "separate": "Separate pipelines",
    "sp_plus": "SP+",
    "petals": "Petals",
    "random": "Random",
    "shortest_queue": "Shortest queue",
}

# Ablation variants (Fig. 11): the same method, told apart by a second colour.
VARIANT_COLORS: dict[str, str] = {
    "pruned": "#D55E00",
    "unpruned": "#F0A57A",
    "warm": "#D55E00",
    "cold": "#000000",
}

# How the source of a bar is drawn: simulation solid, prototype hatched, printed-only hollow.
SOURCE_HATCH: dict[str, str] = {"sim": "", "proto": "//", "paper-log": "//", "paper-printed": ".."}
SOURCE_LABELS: dict[str, str] = {
    "sim": "simulation",
    "proto": "prototype (our run)",
    "paper-log": "prototype (paper's log, our parser)",
    "paper-printed": "prototype (value printed by the paper)",
}

PAPER_MARKER = dict(marker="D", color="black", markersize=5, linestyle="none", zorder=5)
PAPER_LABEL = "paper"

FIG_WIDTH_IN = 5.0
FIG_HEIGHT_IN = 3.2
PNG_DPI = 150


def base_method(name: str) -> str:
    """``paper-helix`` -> ``helix``; ``helix-noprune`` -> ``helix``; unknown names pass through."""
    name = paper_method(name) or name
    if name in METHOD_COLORS:
        return name
    head = name.split("-", 1)[0]
    return head if head in METHOD_COLORS else name


def method_color(name: str) -> str:
    if name in VARIANT_COLORS:
        return VARIANT_COLORS[name]
    return METHOD_COLORS.get(base_method(name), "#333333")


def method_label(name: str) -> str:
    base = base_method(name)
    label = METHOD_LABELS.get(base, name)
    return label


def apply_style() -> None:
    """rcParams shared by all figures (called by every builder; idempotent)."""
    plt.rcParams.update(
        {
            "figure.figsize": (FIG_WIDTH_IN, FIG_HEIGHT_IN),
            "font.size": 9,
            "axes.titlesize": 10,
            "axes.labelsize": 9,
            "legend.fontsize": 7.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "axes.grid.axis": "y",
            "grid.alpha": 0.3,
            "hatch.linewidth": 0.6,
            "pdf.fonttype": 42,
            "svg.hashsalt": "helix",
        }
    )
