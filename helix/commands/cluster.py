"""`helix cluster`: build a configured cluster, or convert between the artifact .ini and our YAML.

    helix cluster build geo24 [--config config/config.yaml] [-o geo24.yaml]
    helix cluster convert results/clusters/geo24.yaml geo24.ini     (by suffix: .ini <-> .yaml)

`build` makes derived clusters' parents in memory, so it needs no earlier workflow run.
"""

from __future__ import annotations

from helix.commands._common import example

from pathlib import Path

HELP = "build a configured cluster (build) or convert a cluster file between .ini and .yaml (convert)"
EXAMPLE = example("""
helix cluster build geo24
helix cluster convert results/clusters/geo24.yaml /tmp/geo24.ini
""")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build one cluster of a config")
    b.add_argument("name", help="cluster name (a key of clusters:)")
    b.add_argument("--config", default="config/config.yaml", help="config file (default: %(default)s)")
    b.add_argument("-o", "--out", default=None, help="output YAML (default: results/clusters/<name>.yaml)")
    c = sub.add_parser("convert", help="convert a cluster file: .ini (artifact) <-> .yaml (project)")
    c.add_argument("src", help="cluster file to read (.ini or .yaml)")
    c.add_argument("dst", help="cluster file to write (.ini or .yaml, by suffix)")


def _build(config, name: str, gpus: dict, source: str = "config"):
    from helix.clusters.build import build_cluster
    from helix.errors import HelixInputError

    if name not in config.clusters:
        raise HelixInputError(
            source, "clusters", f"unknown cluster (known: {', '.join(sorted(config.clusters))})", name
        )
    spec = config.clusters[name]
    parent = _build(config, spec.parent, gpus, source) if getattr(spec, "parent", None) else None
    return build_cluster(name, spec, gpus, parent, artifact_dir=config.artifact_dir())


def run(args) -> int:
    from helix.artifact.cluster_ini import write_cluster_ini
    from helix.clusters.build import cluster_document, load_cluster_file
    from helix.io import write_yaml

    if args.action == "build":
        from helix.config import load_config

        config = load_config(args.config)
        gpus = {k: v for k, v in config.gpus.items()}
        cluster = _build(config, args.name, gpus, args.config)
        out = Path(args.out or f"results/clusters/{args.name}.yaml")
        write_yaml(out, cluster_document(cluster, gpus))
        print(f"{out}: {cluster.n} machines {cluster.gpu_mix()}, {len(cluster.links)} links")
        return 0
    cluster = load_cluster_file(args.src, Path(args.src).stem)
    dst = Path(args.dst)
    if dst.suffix == ".ini":
        write_cluster_ini(cluster, dst, header=f"converted from {args.src}")
    else:
        cluster.save(dst)
    print(f"{dst}: {cluster.n} machines, {len(cluster.links)} links")
    return 0
