"""The reproduction summary: results/tables/reproduction.csv.

One row per number the paper printed that one of our figures shows: the paper's value, ours (read
from the same metric file the figure plots) and the relative difference (ours - paper) / paper.
It is the one-glance answer to "did we reproduce the paper". The rows come from the catalogue
(:func:`helix.figures.catalog.reproduction_spec`), so a figure and its row never disagree.
"""

from __future__ import annotations

import pandas as pd

from helix.figures import data, register
from helix.figures.tables import rel_diff

REPRODUCTION_COLUMNS = [
    "figure",
    "group",
    "cluster",
    "model",
    "method",
    "scheduler",
    "mode",
    "source",
    "metric",
    "paper",
    "ours",
    "rel_diff",
    "path",
]


@register("reproduction")
def reproduction(spec: dict) -> pd.DataFrame:
    rows = []
    cache: dict[str, dict] = {}
    for r in spec["rows"]:
        path = r["path"]
        if path not in cache:
            cache[path] = data.load_flow(path) if r["metric"] == "max_flow" else data.load_metrics(path)
        ours = data.metric_value(cache[path], r["metric"])
        out = {k: r.get(k, "") for k in REPRODUCTION_COLUMNS if k not in ("ours", "rel_diff")}
        out["ours"] = None if ours is None else round(ours, 6)
        out["rel_diff"] = rel_diff(ours, r["paper"])
        rows.append(out)
    return pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)
