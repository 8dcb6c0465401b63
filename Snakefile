"""helix-workflow: every cluster, placement, simulation, prototype run and figure is a file."""

from snakemake.utils import min_version

min_version("9.19")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/artifact.smk"
include: "rules/clusters.smk"
include: "rules/profiles.smk"
include: "rules/placement.smk"
include: "rules/simulate.smk"
include: "rules/prototype.smk"
include: "rules/figures.smk"
include: "rules/profiles_whatif.smk"
include: "rules/served.smk"


rule all:
    default_target: True
    input:
        all_targets(),
