"""Build a Cluster from its config entry: one builder per ``generator``, in a registry.

A new kind of cluster is a new spec class in :mod:`helix.clusters.spec` plus one ``@builder``
function here. Every built cluster is validated against the GPU catalogue it is given, so an
unknown GPU type, a duplicate machine or a dangling link stops the rule with one line naming the
config entry (or file), the field and the value.

Derived clusters (``subcluster``, ``replace_gpu``) take their parent as an already built Cluster,
which the workflow reads from the parent's ``results/clusters/<parent>.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import TypeAdapter, ValidationError

from helix.artifact.source import ArtifactSource
from helix.cluster import SINK, SOURCE, Cluster, Link, Machine
from helix.clusters import generators
from helix.clusters.spec import (
    ClusterSpec,
    FakeClusterSpec,
    FileClusterSpec,
    PartitionedClusterSpec,
    ReplaceGpuSpec,
    SubClusterSpec,
)
from helix.errors import HelixInputError

_SPEC = TypeAdapter(ClusterSpec)

Builder = Callable[..., Cluster]
BUILDERS: dict[str, Builder] = {}


def builder(generator: str) -> Callable[[Builder], Builder]:
    """Register the function that builds clusters of one ``generator`` kind."""

    def deco(fn: Builder) -> Builder:
        BUILDERS[generator] = fn
        return fn

    return deco


def parse_spec(name: str, spec: Any) -> ClusterSpec:
    """A ClusterSpec from a model or a plain mapping (Snakemake params carry JSON)."""
    if isinstance(spec, Mapping):
        try:
            return _SPEC.validate_python(dict(spec))
        except ValidationError as exc:
            err = exc.errors()[0]
            parts = list(err["loc"])
            if len(parts) > 1 and parts[0] == spec.get("generator"):
                parts = parts[1:]  # drop the union tag: "link.bandwidth", not "fake.link.bandwidth"
            loc = ".".join(str(p) for p in parts)
            field = f"{loc}" if loc else None
            value = err.get("input", ...) if not isinstance(err.get("input"), dict) else ...
            raise HelixInputError(f"clusters.{name}", field, err["msg"], value) from None
    return spec


def _where(name: str) -> str:
    return f"clusters.{name}"


def _need_parent(name: str, spec, parent: Cluster | None) -> Cluster:
    if parent is None:
        raise HelixInputError(_where(name), "parent", "the parent cluster was not given", spec.parent)
    return parent


@builder("fake")
def _fake(name: str, spec: FakeClusterSpec, **_: Any) -> Cluster:
    n = sum(spec.types.values())
    if n < 1:
        raise HelixInputError(_where(name), "types", "a cluster needs at least one machine", spec.types)
    for key, value, limit in (
        ("avg_degree", spec.avg_degree, n - 1),
        ("source_degree", spec.source_degree, n),
        ("sink_degree", spec.sink_degree, n),
    ):
        if value is not None and value > limit:
            raise HelixInputError(_where(name), key, f"must be at most {limit} for {n} machines", value)
    return generators.fake_cluster(
        name,
        spec.types,
        seed=spec.seed,
        link=spec.link,
        avg_degree=spec.avg_degree,
        source_degree=spec.source_degree,
        sink_degree=spec.sink_degree,
        fill_link=spec.fill_link,
        rounding=spec.rounding,
        description=spec.description,
    )


@builder("partitioned")
def _partitioned(name: str, spec: PartitionedClusterSpec, **_: Any) -> Cluster:
    for k, region in enumerate(spec.regions):
        if not region:
            raise HelixInputError(
                _where(name), f"regions[{k}]", "a region needs at least one machine", region
            )
    return generators.partitioned_cluster(
        name,
        spec.regions,
        seed=spec.seed,
        in_region=spec.in_region,
        cross_region=spec.cross_region,
        coordinator_link=spec.coordinator_link,
        rounding=spec.rounding,
        description=spec.description,
    )


def subcluster_names(parent: Cluster, gpu: str) -> dict[str, str]:
    """New name -> parent name for the ``gpu`` machines of ``parent``: n0, n1, ... in parent order.

    This is how the artifact numbers its per-type a100/l4/t4.ini files, so the authors' per-type
    layouts (``compute_node_{i+2}``) apply to our sub-clusters unchanged.
    """
    kept = [m.name for m in parent.machines if m.gpu == gpu]
    return {generators.machine_name(j): old for j, old in enumerate(kept)}


def subcluster(parent: Cluster, gpu: str, name: str, description: str = "") -> Cluster:
    """The ``gpu`` machines of ``parent``, renamed n0.. in order, with only the links among them."""
    mapping = subcluster_names(parent, gpu)
    if not mapping:
        raise HelixInputError(
            _where(name),
            "gpu",
            f"no machine of this GPU type in {parent.name} (has {sorted(parent.gpu_mix())})",
            gpu,
        )
    rename = {old: new for new, old in mapping.items()}
    rename.update({SOURCE: SOURCE, SINK: SINK})
    machines = [
        Machine(name=rename[m.name], gpu=m.gpu, region=m.region) for m in parent.machines if m.name in rename
    ]
    links = [
        Link(a=rename[l.a], b=rename[l.b], bandwidth=l.bandwidth, latency=l.latency)
        for l in parent.links
        if l.a in rename and l.b in rename
    ]
    origin = ", ".join(f"{new}={old}" for new, old in mapping.items())
    text = description or f"{gpu} machines of {parent.name}"
    return Cluster(
        name=name,
        machines=machines,
        links=links,
        coordinator=parent.coordinator,
        description=f"{text} (renamed from {parent.name}: {origin})",
    )


@builder("subcluster")
def _subcluster(name: str, spec: SubClusterSpec, parent: Cluster | None = None, **_: Any) -> Cluster:
    return subcluster(_need_parent(name, spec, parent), spec.gpu, name, spec.description)


def replace_gpus(parent: Cluster, replace: Mapping[str, str], name: str, description: str = "") -> Cluster:
    """``parent`` with every machine of each old GPU type switched to the new type (names, links kept)."""
    mix = parent.gpu_mix()
    for old in replace:
        if old not in mix:
            raise HelixInputError(
                _where(name),
                f"replace.{old}",
                f"no machine of this GPU type in {parent.name} (has {sorted(mix)})",
                old,
            )
    machines = [Machine(name=m.name, gpu=replace.get(m.gpu, m.gpu), region=m.region) for m in parent.machines]
    swaps = ", ".join(f"{a}->{b}" for a, b in replace.items())
    return Cluster(
        name=name,
        machines=machines,
        links=list(parent.links),
        coordinator=parent.coordinator,
        description=description or f"{parent.name} with {swaps}",
    )


@builder("replace_gpu")
def _replace(name: str, spec: ReplaceGpuSpec, parent: Cluster | None = None, **_: Any) -> Cluster:
    return replace_gpus(_need_parent(name, spec, parent), spec.replace, name, spec.description)


def resolve_path(path: str, artifact_dir: str | Path | None = None) -> Path:
    """``artifact:<rel>`` -> the artifact root / rel (helix.artifact.source); anything else as given."""
    return (ArtifactSource.at(artifact_dir) if artifact_dir else ArtifactSource()).path(path)


def load_cluster_file(path: str | Path, name: str | None = None) -> Cluster:
    """A cluster file: ``.ini`` in the artifact's format, anything else the project's YAML."""
    from helix.artifact.cluster_ini import read_cluster_ini

    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "cluster file not found")
    if path.suffix == ".ini":
        return read_cluster_ini(path, name)
    return Cluster.load(path)


@builder("file")
def _file(name: str, spec: FileClusterSpec, file: Path, **_: Any) -> Cluster:
    path = file
    if not path.is_file():
        raise HelixInputError(_where(name), "path", "cluster file not found", str(path))
    cluster = load_cluster_file(path, name)
    cluster.name = name
    if spec.description:
        cluster.description = spec.description
    cluster.validate(path)
    return cluster


def build_cluster(
    name: str,
    spec: Any,
    gpus: Mapping[str, Any],
    parent: Cluster | None = None,
    *,
    file: str | Path | None = None,
    artifact_dir: str | Path | None = None,
) -> Cluster:
    """Build and validate the cluster ``name`` from its config entry.

    ``spec``: a ClusterSpec or its mapping; ``gpus``: the GPU catalogue (type -> entry), every
    machine's type must be one of its keys; ``parent``: the built parent of a derived cluster;
    ``file``: for ``generator: file``, the already resolved path (else ``spec.path`` is resolved
    against ``artifact_dir``, else helix.artifact.source).
    """
    spec = parse_spec(name, spec)
    source = _where(name)
    if isinstance(spec, FileClusterSpec):
        file = Path(file) if file else resolve_path(spec.path, artifact_dir)
        source = str(file)  # errors in a file cluster name the file
    cluster = BUILDERS[spec.generator](name, spec, parent=parent, file=file)
    return cluster.validate(source, known_gpus=list(gpus))


def cluster_gpu_types(name: str, clusters: Mapping[str, Any]) -> list[str] | None:
    """The GPU types cluster ``name`` will contain, from the config alone (None: not knowable, a file).

    The workflow passes only these catalogue entries to the rule, so editing an unrelated GPU
    type does not rebuild the cluster.
    """
    spec = parse_spec(name, clusters[name])
    if isinstance(spec, FakeClusterSpec):
        return list(dict.fromkeys(spec.types))
    if isinstance(spec, PartitionedClusterSpec):
        return list(dict.fromkeys(g for region in spec.regions for g in region))
    if isinstance(spec, SubClusterSpec):
        return [spec.gpu]
    if isinstance(spec, ReplaceGpuSpec):
        inherited = cluster_gpu_types(spec.parent, clusters)
        if inherited is None:
            return None
        kept = [g for g in inherited if g not in spec.replace]
        return list(dict.fromkeys(kept + list(spec.replace.values())))
    return None


def cluster_document(cluster: Cluster, gpus: Mapping[str, Any]) -> dict:
    """The YAML document of a built cluster: Cluster.to_dict() plus the GPU types it uses.

    ``gpu_types`` makes the file self-describing (VRAM, NICs per machine type); readers that only
    need the topology (Cluster.load) ignore it.
    """
    doc = cluster.to_dict()
    used = list(cluster.gpu_mix())
    doc["gpu_types"] = {
        g: (gpus[g].machine_fields() if hasattr(gpus[g], "machine_fields") else dict(gpus[g])) for g in used
    }
    return doc
