"""Table 8: the MILP's size (rows, columns, nonzeros) with and without cluster pruning.

Read from the ``unpruned`` / ``pruned`` keys of a helix-family run's milp_size.json (the paper's
per-machine MILP, docs/design/placement.md s2, without and with the pruning of s3; the top-level size is the
model that run solved, which may be the aggregated interval model), next to the sizes the
authors' Gurobi logs report (s9), so the effect of pruning and any difference in our formulation
both show.
"""

from __future__ import annotations

import pandas as pd

from helix.figures import data, register

TABLE8_COLUMNS = [
    "cluster",
    "model",
    "pruned",
    "rows",
    "columns",
    "nonzeros",
    "paper_rows",
    "paper_columns",
    "rel_diff_rows",
    "rel_diff_columns",
    "solved",
]


def rel_diff(ours, paper):
    if ours is None or paper is None or paper == 0 or pd.isna(ours):
        return None
    return round((float(ours) - float(paper)) / float(paper), 6)


@register("table8")
def table8(spec: dict) -> pd.DataFrame:
    """One row per (cluster, pruned): the per-machine MILP's size on the full and the pruned cluster.

    ``solved`` names the model that run actually solved (``aggregated`` = the interval model, not
    the paper's), for the record; the sizes are always the paper's per-machine formulation.
    """
    rows = []
    for r in spec["rows"]:
        variants = data.load_milp_size(r["path"])
        for variant in data.MILP_SIZE_VARIANTS:
            size = variants[variant]
            paper = data.paper_milp_size(r["cluster"], r["model"], variant == "pruned") or {}
            rows.append(
                {
                    "cluster": r["cluster"],
                    "model": r["model"],
                    "pruned": variant == "pruned",
                    "rows": size["rows"],
                    "columns": size["columns"],
                    "nonzeros": size["nonzeros"],
                    "paper_rows": paper.get("rows"),
                    "paper_columns": paper.get("columns"),
                    "rel_diff_rows": rel_diff(size["rows"], paper.get("rows")),
                    "rel_diff_columns": rel_diff(size["columns"], paper.get("columns")),
                    "solved": variants["solved_variant"],
                }
            )
    return pd.DataFrame(rows, columns=TABLE8_COLUMNS)


def write_csv(df: pd.DataFrame, path) -> None:
    from helix.io import write_text

    write_text(path, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
