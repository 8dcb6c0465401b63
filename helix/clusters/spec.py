"""Typed config entries that define a cluster (the `clusters:` section of config.yaml).

Owned by the clusters package; the root config model imports ClusterSpec from here. Each entry
names its ``generator``; the builders in :mod:`helix.clusters.build` turn an entry into a
:class:`helix.cluster.Cluster`. The union is discriminated on ``generator`` so that a bad field in
one entry is reported against that generator only (not against every member of the union).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A generated cluster has O(n^2) links: a mistyped count (1e9 for 10) must be refused, not fill
# the memory. The paper's largest cluster has 42 machines.
MAX_MACHINES = 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkDist(_Strict):
    """A link distribution: uniform in [avg - var, avg + var] (bytes/s, seconds)."""

    bandwidth: float = Field(gt=0, description="mean bandwidth, bytes/s")
    bandwidth_var: float = Field(0.0, ge=0)
    latency: float = Field(ge=0, description="mean latency, seconds")
    latency_var: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _positive_draws(self) -> "LinkDist":
        # every drawn bandwidth must be positive and every latency non-negative
        if not self.bandwidth_var < self.bandwidth:
            raise ValueError(
                f"bandwidth_var ({self.bandwidth_var:g}) must be below bandwidth ({self.bandwidth:g})"
            )
        if not self.latency_var <= self.latency:
            raise ValueError(f"latency_var ({self.latency_var:g}) must not exceed latency ({self.latency:g})")
        return self


class Rounding(_Strict):
    """How drawn values are rounded, as the paper's generator wrote them into its .ini files.

    A bandwidth above ``int_above`` is truncated to whole mbps (10^6 B/s), above
    ``one_decimal_above`` rounded to 0.1 mbps, otherwise to 0.001 mbps; a latency is truncated to
    whole milliseconds. The paper's fake generator used int_above = 10 mbps, its partitioned
    (geo) generator 100 mbps (docs/design/placement.md s7). Rounding is part of the cluster's identity: the
    reproduced files match the artifact's bit for bit only with it.
    """

    int_above: float = Field(gt=0, description="bytes/s; above it bandwidth is truncated to whole mbps")
    one_decimal_above: float = Field(
        1e6, gt=0, description="bytes/s; above it bandwidth is rounded to 0.1 mbps"
    )
    latency: Literal["truncate_ms"] = "truncate_ms"


FAKE_ROUNDING = Rounding(int_above=10e6)
PARTITIONED_ROUNDING = Rounding(int_above=100e6)


class FakeClusterSpec(_Strict):
    """Graph with identical links; node types shuffled with a seeded RNG (docs/design/placement.md s7).

    The RNG call order is the paper's: sample ``n*avg_degree/2`` compute pairs, sample the
    source set, sample the sink set, shuffle the type list, then two uniform draws per link. The
    degrees therefore change the node-type permutation even when the graph stays complete; leave
    them unset for the paper's complete graphs (avg_degree = n-1, source/sink degree = n).
    """

    generator: Literal["fake"]
    seed: int = 0
    # a count < 1 would build a machine list the links do not cover (a machine with no links)
    types: dict[str, Annotated[int, Field(ge=1)]] = Field(
        min_length=1, description="GPU type -> count (>= 1), in the order the paper's dict used"
    )
    link: LinkDist = LinkDist(bandwidth=1e9, latency=1e-3)
    avg_degree: int | None = Field(None, ge=0, description="compute-compute degree; default n-1 (complete)")
    source_degree: int | None = Field(None, ge=1, description="machines linked to the source; default all")
    sink_degree: int | None = Field(None, ge=1, description="machines linked to the sink; default all")
    fill_link: LinkDist | None = Field(
        None,
        description="links for the compute pairs not sampled (the paper's 'slow links'); "
        "null: leave them out",
    )
    rounding: Rounding | None = FAKE_ROUNDING
    description: str = ""

    @model_validator(mode="after")
    def _size(self) -> "FakeClusterSpec":
        n = sum(self.types.values())
        if n > MAX_MACHINES:
            raise ValueError(
                f"types: {n} machines, more than the {MAX_MACHINES} a generated cluster may have"
            )
        return self


class PartitionedClusterSpec(_Strict):
    """Regions of machines: fast in-region links, slow cross-region and coordinator links.

    Machines are numbered region by region in the order given; region k is named ``r{k}``.
    The paper draws the coordinator links (source-i, i-sink) from the cross-region distribution;
    ``coordinator_link`` overrides that.
    """

    generator: Literal["partitioned"]
    seed: int = 0
    regions: list[list[str]] = Field(
        min_length=1, description="per region, the GPU type of each machine in order"
    )
    in_region: LinkDist
    cross_region: LinkDist
    coordinator_link: LinkDist | None = Field(None, description="source/sink links; default: cross_region")
    rounding: Rounding | None = PARTITIONED_ROUNDING
    description: str = ""

    @model_validator(mode="after")
    def _size(self) -> "PartitionedClusterSpec":
        n = sum(len(r) for r in self.regions)
        if n > MAX_MACHINES:
            raise ValueError(
                f"regions: {n} machines, more than the {MAX_MACHINES} a generated cluster may have"
            )
        return self


class SubClusterSpec(_Strict):
    """The machines of one GPU type of another cluster, links among them only.

    Machines are renamed n0, n1, ... in their order in the parent, as the artifact's per-type
    a100/l4/t4.ini files number them; the description records which parent machine each one is.
    """

    generator: Literal["subcluster"]
    parent: str
    gpu: str
    description: str = ""


class ReplaceGpuSpec(_Strict):
    """Another cluster with every machine of one GPU type replaced by another type (what-if)."""

    generator: Literal["replace_gpu"]
    parent: str
    replace: dict[str, str] = Field(min_length=1, description="old GPU type -> new GPU type")
    description: str = ""


class FileClusterSpec(_Strict):
    """A cluster written by hand in the project's YAML format, or an artifact .ini.

    ``path`` ending in .ini is read as the artifact's cluster format, anything else as the
    project's YAML. ``artifact:`` paths are relative to the artifact root.
    """

    generator: Literal["file"]
    path: str = Field(min_length=1)
    description: str = ""


ClusterSpec = Annotated[
    Union[FakeClusterSpec, PartitionedClusterSpec, SubClusterSpec, ReplaceGpuSpec, FileClusterSpec],
    Field(discriminator="generator"),
]
