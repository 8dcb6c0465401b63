"""Rules of the figures phase: every figure and table of the paper's evaluation, from metric files.

One rule per figure (fig5a ... fig12, served_validation, served_throughput, custom_runs) and table
(table8, reproduction), made from the figure's record in helix.figures.catalog (FIGURES: name,
report section, builder, gallery, default and all_figures membership, group target); the builder
that draws it is registered in helix/figures/<module>.py. A rule's inputs are exactly
the metric files its figure plots (served_throughput: also the profiles its served estimate
reads), and its params are the figure's spec (paths, labels, the paper's printed values), so
changing one experiment reruns only the figures that show it.
Plotting rules are local. Prototype bars come from results/proto/... when that run exists, else
from the paper's own log parsed by our parser (rule paper_proto_metrics), else from the value the
paper printed. Targets: each figure, fig5 ... fig11 (all panels), tables, served (the served
figures), all_figures, gallery (docs/gallery/, the README's small PNGs).
"""

from helix.figures.catalog import FIGURES, PAPER_PROTO, PAPER_PROTO_END_S
from helix.figures.workflow import FigureWorkflow, figure_groups, gallery_pairs

FIGS = FigureWorkflow(ARTIFACT.root, HCFG)
GALLERY_IN, GALLERY_OUT = gallery_pairs()


localrules:
    all_figures,
    gallery,
    paper_proto_metrics,


rule paper_proto_metrics:
    input:
        ARTIFACT.inputs(),
        logs=FIGS.paper_proto_logs,
    output:
        PAPER_PROTO,
    log:
        "logs/figures/paper-proto/{cluster}/{model}/{method}/{scheduler}/{mode}.log",
    conda:
        "../envs/helix.yaml"
    params:
        warmup_s=FIGS.paper_proto_warmup,
        end_s=PAPER_PROTO_END_S,
    script:
        "../scripts/figure_paper_proto.py"


for _fig in FIGURES.values():

    rule:
        name:
            _fig.name
        input:
            FIGS.inputs(_fig.name),
        output:
            report(
                _fig.outputs,
                caption=f"../{_fig.caption}",
                category=_fig.section,
                subcategory=_fig.topic,
            ),
        log:
            f"logs/figures/{_fig.name}.log",
        localrule: True
        conda:
            "../envs/helix.yaml"
        params:
            spec=FIGS.specs[_fig.name],
        script:
            "../scripts/figure.py"


for _group, _files in figure_groups().items():

    rule:
        name:
            _group
        input:
            _files,
        localrule: True


rule all_figures:
    input:
        FIGS.all_figures(),


rule gallery:
    input:
        GALLERY_IN,
    output:
        GALLERY_OUT,
    log:
        "logs/figures/gallery.log",
    conda:
        "../envs/helix.yaml"
    script:
        "../scripts/figure_gallery.py"


register_targets(FIGS.default_targets(HCFG.clusters, HCFG.models))
