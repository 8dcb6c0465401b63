"""Table 8: the MILP's size (rows, columns, nonzeros) with and without cluster pruning.

Read from the placement phase's size files, next to the sizes the authors' Gurobi logs report
(placement.md s9), so the effect of pruning and any difference in our formulation both show.
"""

from __future__ import annotations

import pandas as pd

from helix.figures import data

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
]


def rel_diff(ours, paper):
    if ours is None or paper is None or paper == 0 or pd.isna(ours):
        return None
    return round((float(ours) - float(paper)) / float(paper), 6)


def table8(spec: dict) -> pd.DataFrame:
    """One row per (cluster, variant): the pruned and unpruned model sizes of each cluster's run."""
    rows = []
    for r in spec["rows"]:
        variants = data.load_milp_size(r["path"])
        for variant in ("unpruned", "pruned"):
            if variant not in variants:
                continue
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
                }
            )
        if "pruned" not in variants and "unpruned" not in variants:
            from helix.errors import HelixInputError

            raise HelixInputError(r["path"], "pruned/unpruned", "no per-variant sizes: was the MILP run with prune: true?")
    return pd.DataFrame(rows, columns=TABLE8_COLUMNS)


def write_csv(df: pd.DataFrame, path) -> None:
    from helix.io import write_text

    write_text(path, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
