"""Rule validate_profiles: leave-one-GPU-type-out errors of the analytic model, table and plot."""

from helix.io import atomic_path
from helix.profiles.fit import leave_one_out
from helix.profiles.validation_plot import plot_validation
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    table, points = leave_one_out(sm.params.artifact, sm.params.gpus, sm.params.models)
    with atomic_path(sm.output.table) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(sm.output.points) as tmp:
        points.to_csv(tmp, index=False)
    plot_validation(points, [sm.output.png, sm.output.pdf])
    print(table.to_string(index=False), file=log)
    print(f"median of row medians {table['median_rel_err'].median():.4f}", file=log)
