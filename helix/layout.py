"""A placement's layout: which contiguous layer range [start, end) each machine holds.

Kept separate from the placement algorithms so the simulator and the prototype can read layouts
without importing any solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from helix.cluster import Cluster
from helix.errors import HelixInputError
from helix.io import read_yaml, write_yaml


@dataclass
class Layout:
    num_layers: int
    # machine name -> (start, end) half-open; machines absent or None hold nothing.
    ranges: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    def held(self, name: str) -> tuple[int, int] | None:
        return self.ranges.get(name)

    def used(self) -> dict[str, tuple[int, int]]:
        return {k: v for k, v in self.ranges.items() if v is not None}

    def validate(self, cluster: Cluster, source: str | Path | None = None) -> "Layout":
        src = source or "layout"
        names = set(cluster.index())
        for name, rng in self.ranges.items():
            if name not in names:
                raise HelixInputError(src, f"layers.{name}", f"machine not in cluster {cluster.name}", name)
            if rng is None:
                continue
            s, e = rng
            if not (0 <= s < e <= self.num_layers):
                raise HelixInputError(
                    src,
                    f"layers.{name}",
                    f"range must satisfy 0 <= start < end <= {self.num_layers}",
                    list(rng),
                )
        return self

    def to_dict(self, cluster: Cluster | None = None) -> dict:
        order = [m.name for m in cluster.machines] if cluster else list(self.ranges)
        return {
            "num_layers": self.num_layers,
            "layers": {n: (list(self.ranges[n]) if self.ranges.get(n) else None) for n in order},
        }

    @classmethod
    def from_dict(cls, data: dict, source: str | Path | None = None) -> "Layout":
        src = source or "layout"
        if not isinstance(data, dict) or "num_layers" not in data or "layers" not in data:
            raise HelixInputError(src, None, "a layout needs 'num_layers' and 'layers'")
        n = data["num_layers"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise HelixInputError(src, "num_layers", "must be a positive integer", n)
        if not isinstance(data["layers"] or {}, dict):
            raise HelixInputError(
                src, "layers", "must map machine names to [start, end] or null", data["layers"]
            )
        ranges: dict[str, tuple[int, int] | None] = {}
        for name, rng in (data["layers"] or {}).items():
            if rng is None:
                ranges[str(name)] = None
            elif (
                isinstance(rng, (list, tuple))
                and len(rng) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
            ):
                ranges[str(name)] = (int(rng[0]), int(rng[1]))
            else:
                raise HelixInputError(src, f"layers.{name}", "must be [start, end] or null", rng)
        return cls(num_layers=n, ranges=ranges)

    def save(self, path: str | Path, cluster: Cluster | None = None) -> None:
        write_yaml(path, self.to_dict(cluster))

    @classmethod
    def load(cls, path: str | Path, cluster: Cluster | None = None) -> "Layout":
        path = Path(path)
        layout = cls.from_dict(read_yaml(path, "layout file"), path)
        if cluster is not None:
            layout.validate(cluster, path)
        return layout
