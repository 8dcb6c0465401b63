"""Typed config entries that define a cluster (the `clusters:` section of config.yaml).

Owned by the clusters package; the root config model imports ClusterSpec from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkDist(_Strict):
    """A link distribution: uniform in [avg - var, avg + var] (bytes/s, seconds)."""

    bandwidth: float = Field(gt=0, description="mean bandwidth, bytes/s")
    bandwidth_var: float = Field(0.0, ge=0)
    latency: float = Field(ge=0, description="mean latency, seconds")
    latency_var: float = Field(0.0, ge=0)


class FakeClusterSpec(_Strict):
    """Complete graph with identical links; node types shuffled with a seeded RNG (placement.md s7)."""

    generator: Literal["fake"] = "fake"
    seed: int = 0
    types: dict[str, int] = Field(description="GPU type -> count, in the order the paper's dict used")
    link: LinkDist = LinkDist(bandwidth=1e9, latency=1e-3)
    description: str = ""


class PartitionedClusterSpec(_Strict):
    """Regions of machines: fast in-region links, slow cross-region and coordinator links."""

    generator: Literal["partitioned"] = "partitioned"
    seed: int = 0
    regions: list[list[str]] = Field(description="per region, the GPU type of each machine in order")
    in_region: LinkDist
    cross_region: LinkDist
    description: str = ""


class SubClusterSpec(_Strict):
    """The machines of one GPU type of another cluster, links among them only."""

    generator: Literal["subcluster"] = "subcluster"
    parent: str
    gpu: str
    description: str = ""


class ReplaceGpuSpec(_Strict):
    """Another cluster with every machine of one GPU type replaced by another type (what-if)."""

    generator: Literal["replace_gpu"] = "replace_gpu"
    parent: str
    replace: dict[str, str] = Field(description="old GPU type -> new GPU type")
    description: str = ""


class FileClusterSpec(_Strict):
    """A cluster written by hand in the project's YAML format (or an artifact .ini)."""

    generator: Literal["file"] = "file"
    path: str
    description: str = ""


ClusterSpec = FakeClusterSpec | PartitionedClusterSpec | SubClusterSpec | ReplaceGpuSpec | FileClusterSpec
