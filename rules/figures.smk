"""Rules of the figures phase: every figure and table of the paper's evaluation, from metric files.

One rule per figure (fig5a ... fig12) and table (table8, reproduction). What each draws and which
files it reads is helix.figures.catalog: a rule's inputs are exactly the metric files its figure
plots, and its params are the figure's spec (paths, labels, the paper's printed values), so
changing one experiment reruns only the figures that show it. Plotting rules are local.
Prototype bars come from results/proto/... when that run exists, else from the paper's own log
parsed by our parser (rule paper_proto_metrics), else from the value the paper printed.
Targets: fig5, fig7, fig8, fig9, fig10, fig11, fig12 (the figure rule itself), tables,
all_figures, gallery (docs/gallery/, the README's small PNGs).
"""

from helix.figures.catalog import (
    DEFAULT_TARGETS,
    FIGURE_NAMES,
    GALLERY,
    PAPER_PROTO,
    PAPER_PROTO_END_S,
    REPORT_CATEGORIES,
    TABLE_NAMES,
    spec_inputs,
)
from helix.figures.workflow import FigureWorkflow, figure_files, figure_group

FIGURES = FigureWorkflow(artifact_dir())


localrules:
    fig5,
    fig7,
    fig8,
    fig9,
    fig10,
    fig11,
    tables,
    all_figures,
    gallery,
    paper_proto_metrics,


rule paper_proto_metrics:
    input:
        artifact_input(),
        logs=FIGURES.paper_proto_logs,
    output:
        PAPER_PROTO,
    log:
        "logs/figures/paper-proto/{cluster}/{model}/{method}/{scheduler}/{mode}.log",
    conda:
        "../envs/helix.yaml"
    params:
        warmup_s=FIGURES.paper_proto_warmup,
        end_s=PAPER_PROTO_END_S,
    script:
        "../scripts/figure_paper_proto.py"


for _name in FIGURE_NAMES + list(TABLE_NAMES):
    _category, _subcategory = REPORT_CATEGORIES[_name]

    rule:
        name:
            _name
        input:
            spec_inputs(FIGURES.specs[_name]),
        output:
            report(
                figure_files([_name]),
                caption=f"../report/{_name}.rst",
                category=_category,
                subcategory=_subcategory,
            ),
        log:
            f"logs/figures/{_name}.log",
        localrule: True
        conda:
            "../envs/helix.yaml"
        params:
            spec=FIGURES.specs[_name],
            script=FIGURES.script(_name),
        script:
            # formatted by Snakemake at run time from params (a loop variable would bind late)
            "../scripts/{params.script}"


rule fig5:
    input:
        figure_group("fig5"),


rule fig7:
    input:
        figure_group("fig7"),


rule fig8:
    input:
        figure_group("fig8"),


rule fig9:
    input:
        figure_group("fig9"),


rule fig10:
    input:
        figure_group("fig10"),


rule fig11:
    input:
        figure_group("fig11"),


rule tables:
    input:
        figure_files(TABLE_NAMES),


rule all_figures:
    input:
        figure_files(FIGURE_NAMES + list(TABLE_NAMES)),


rule gallery:
    input:
        [f"results/figures/{n}.png" for n in GALLERY],
    output:
        [f"docs/gallery/{n}.png" for n in GALLERY],
    log:
        "logs/figures/gallery.log",
    conda:
        "../envs/helix.yaml"
    script:
        "../scripts/figure_gallery.py"


register_targets(
    figure_files(FIGURES.configured(DEFAULT_TARGETS, HCFG.clusters, HCFG.models))
)
