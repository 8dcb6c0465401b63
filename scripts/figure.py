"""Every figure and table rule (rules/figures.smk): draw the figure's spec with its registered builder.

The spec (params) names its builder (``kind``, from the figure's record in helix.figures.catalog);
the builders are in helix/figures/<kind>.py.
"""

from helix.figures import render
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    render(sm.params.spec, list(sm.output))
    print(f"wrote {', '.join(sm.output)} from {len(sm.input)} input files", file=log)
