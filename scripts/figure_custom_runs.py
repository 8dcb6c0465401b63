"""Rule custom_runs: the metrics of every custom run as a table and a bar chart (predicted profiles marked)."""

from helix.figures.custom import plot, rows, write_table
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    table = rows(sm.params.runs)
    write_table(table, sm.output.table)
    plot(table, sm.output.pdf, sm.output.png)
    for r in table:
        print(f"{r['run']}: {r['decode_throughput_tps']} tok/s; predicted: {r['predicted_gpus'] or '-'}", file=log)
