"""Custom runs: the simulations of experiments that draw no paper figure (e.g. whatif, a user's own).

Outputs: results/tables/custom_runs.csv (metrics per run and which GPU types' profiles were
predicted) and results/figures/custom_runs.{pdf,png} (decode throughput per run; runs on predicted
profiles hatched), both in the report under "Custom runs" and built by all_figures.
"""

from helix.figures.custom import FIGURE, TABLE, custom_runs, run_files

CUSTOM_RUNS = custom_runs(HCFG)
CUSTOM_RUN_OUTPUTS = [TABLE, *FIGURE] if CUSTOM_RUNS else []


rule custom_runs:
    input:
        run_files(CUSTOM_RUNS),
    output:
        table=report(
            TABLE,
            caption="../report/custom_runs.rst",
            category="Custom runs",
            subcategory="metrics",
        ),
        pdf=FIGURE[0],
        png=report(
            FIGURE[1],
            caption="../report/custom_runs.rst",
            category="Custom runs",
            subcategory="decode throughput",
        ),
    log:
        "logs/figures/custom_runs.log",
    localrule: True
    conda:
        "../envs/helix.yaml"
    params:
        runs=CUSTOM_RUNS,
    script:
        "../scripts/figure_custom_runs.py"


register_targets(CUSTOM_RUN_OUTPUTS)
