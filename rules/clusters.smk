"""Rules of the clusters phase: one YAML per configured cluster (results/clusters/{cluster}.yaml).

A rule run carries exactly its cluster's config entry and the GPU types that cluster uses as
params, so editing one cluster (or one GPU type) rebuilds only the clusters that depend on it;
derived clusters (subcluster, replace_gpu) take their parent's YAML as input and follow it.
"""

from helix.clusters.workflow import NAME_PATTERN, file_input, gpus_param, parent_input

cluster_gpus = gpus_param(HCFG)
cluster_file_input = file_input(HCFG, ARTIFACT)
cluster_parent_input = parent_input(HCFG, CONFIG_SOURCE)


localrules:
    cluster,
    clusters,


rule cluster:
    input:
        parent=cluster_parent_input,
        source=cluster_file_input,
    output:
        "results/clusters/{cluster}.yaml",
    log:
        "logs/clusters/{cluster}.log",
    wildcard_constraints:
        cluster=NAME_PATTERN,
    conda:
        "../envs/helix.yaml"
    params:
        spec=cluster_spec,
        gpus=cluster_gpus,
    script:
        "../scripts/cluster.py"


rule clusters:
    input:
        all_clusters(),


register_targets(all_clusters())
