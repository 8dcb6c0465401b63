"""Rule `cluster`: build one cluster from its config entry into results/clusters/{cluster}.yaml.

Derived clusters read their parent's YAML (input.parent); `generator: file` clusters read
the file its spec names (input.source tracks it; ``artifact:`` paths resolve through
helix.artifact.source).
"""

from helix.artifact.source import ArtifactSource
from helix.cluster import Cluster
from helix.clusters.build import build_cluster, cluster_document
from helix.io import write_yaml
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
name = sm.wildcards.cluster
with rule_log(sm) as log:
    parent = Cluster.load(sm.input.parent[0]) if sm.input.parent else None
    file = None
    if sm.params.spec["generator"] == "file":  # inside the artifact, whichever way it came
        file = ArtifactSource.from_config_dict(sm.config).path(sm.params.spec["path"])
    cluster = build_cluster(name, sm.params.spec, sm.params.gpus, parent, file=file)
    write_yaml(sm.output[0], cluster_document(cluster, sm.params.gpus))
    print(f"{name}: {cluster.n} machines {cluster.gpu_mix()}, {len(cluster.links)} links", file=log)
