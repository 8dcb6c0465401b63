"""Rule `cluster`: build one cluster from its config entry into results/clusters/{cluster}.yaml.

Derived clusters read their parent's YAML (input.parent); `generator: file` clusters read
input.source (or, when the artifact is cloned on demand, the file inside the clone).
"""

from pathlib import Path

from helix.cluster import Cluster
from helix.clusters.build import build_cluster, cluster_document, resolve_path
from helix.io import write_yaml
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
name = sm.wildcards.cluster
with rule_log(sm) as log:
    parent = Cluster.load(sm.input.parent[0]) if sm.input.parent else None
    file = sm.input.source[0] if sm.input.source else None
    if file and Path(file).name == "COMMIT":  # cloned artifact: the file lives inside the clone
        file = resolve_path(sm.params.spec["path"], Path(file).parent)
    cluster = build_cluster(name, sm.params.spec, sm.params.gpus, parent, file=file)
    write_yaml(sm.output[0], cluster_document(cluster, sm.params.gpus))
    print(f"{name}: {cluster.n} machines {cluster.gpu_mix()}, {len(cluster.links)} links", file=log)
