"""Rule estimator_validation: every case's rows in one CSV, and Spearman / pair ordering per cluster."""

from helix.io import write_json, write_text
from helix.planning.validation import read_rows, rows_csv, summarize
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    rows = [r for path in sm.input for r in read_rows(path)]
    summary = summarize(rows)
    write_text(sm.output.csv, rows_csv(rows))
    write_json(sm.output.summary, summary)
    for key, s in summary.items():
        print(f"{key}: {s}", file=log)
