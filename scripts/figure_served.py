"""Figures of the serving-aware planner (helix.figures.served): estimator validation, or max-flow
vs served throughput (with its table)."""

import csv
import json

from helix.figures.served import comparison_figure, validation_figure
from helix.io import atomic_path
from helix.planning.validation import read_rows
from helix.planning.workflow import comparison_table
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm):
    if "summary" in sm.input.keys():
        with open(sm.input.summary) as f:
            summary = json.load(f)
        validation_figure(read_rows(sm.input.csv), summary, sm.output.pdf, sm.output.png)
    else:
        table = comparison_table()
        comparison_figure(table, sm.output.pdf, sm.output.png)
        with atomic_path(sm.output.table) as tmp:
            with open(tmp, "w", newline="") as f:
                wr = csv.DictWriter(f, ["cluster", "layout", "max_flow", "offline", "online", "rate"], lineterminator="\n")
                wr.writeheader()
                wr.writerows(table)
