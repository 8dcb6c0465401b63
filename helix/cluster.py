"""The cluster: machines, links and the coordinator, with the project's own YAML format.

A cluster is the input of every placement and simulation. The coordinator is split into a
``source`` (where requests enter) and a ``sink`` (where tokens come back), as in the paper, because
their links can differ (geo24 draws them separately). Links are undirected; the flow graph makes two
arcs of each compute-compute link.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable


from helix.errors import HelixInputError
from helix.io import read_yaml, write_yaml

SOURCE = "source"
SINK = "sink"
COORDINATOR_ENDPOINTS = (SOURCE, SINK)


@dataclass(frozen=True)
class Machine:
    name: str
    gpu: str  # GPU/machine type name, a key of the GPU catalogue (A100, L4, T4x2, ...)
    region: str = "default"


@dataclass(frozen=True)
class Link:
    a: str  # machine name, "source" or "sink"
    b: str
    bandwidth: float  # bytes per second
    latency: float  # seconds


@dataclass(frozen=True)
class Coordinator:
    outbound_nic: float = 10e9  # bytes/s out of the source
    inbound_nic: float = 10e9  # bytes/s into the sink


@dataclass
class Cluster:
    name: str
    machines: list[Machine]
    links: list[Link]
    coordinator: Coordinator = field(default_factory=Coordinator)
    description: str = ""

    # ----- queries -------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.machines)

    def index(self) -> dict[str, int]:
        return {m.name: i for i, m in enumerate(self.machines)}

    def machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)

    def gpu_mix(self) -> dict[str, int]:
        """Count of machines per GPU type, in first-appearance order."""
        return dict(Counter(m.gpu for m in self.machines))

    def link_map(self) -> dict[frozenset[str], Link]:
        return {frozenset((l.a, l.b)): l for l in self.links}

    def sub_cluster(self, gpu: str, name: str | None = None) -> "Cluster":
        """Machines of one GPU type with only the links among them (and the coordinator).

        Machine names stay the parent's, so a layout found on the part applies to the parent
        (per-GPU-type placement). The `subcluster` generator in helix.clusters.build renumbers
        them instead, to match the artifact's per-type .ini files.
        """
        keep = {m.name for m in self.machines if m.gpu == gpu}
        ends = keep | set(COORDINATOR_ENDPOINTS)
        return Cluster(
            name=name or f"{self.name}-{gpu.lower()}",
            machines=[m for m in self.machines if m.name in keep],
            links=[l for l in self.links if l.a in ends and l.b in ends],
            coordinator=self.coordinator,
            description=f"{gpu} machines of {self.name}",
        )

    # ----- validation ----------------------------------------------------------------------
    def validate(
        self, source: str | Path | None = None, known_gpus: Iterable[str] | None = None
    ) -> "Cluster":
        src = source or f"cluster {self.name}"
        if not self.machines:
            raise HelixInputError(src, "machines", "a cluster needs at least one machine")
        seen: set[str] = set()
        for i, m in enumerate(self.machines):
            if m.name in seen:
                raise HelixInputError(src, f"machines[{i}].name", "duplicate machine name", m.name)
            if m.name in COORDINATOR_ENDPOINTS:
                raise HelixInputError(src, f"machines[{i}].name", "reserved name", m.name)
            seen.add(m.name)
        if known_gpus is not None:
            known = set(known_gpus)
            for i, m in enumerate(self.machines):
                if m.gpu not in known:
                    raise HelixInputError(
                        src,
                        f"machines[{i}].gpu",
                        f"unknown GPU type (known: {', '.join(sorted(known))})",
                        m.gpu,
                    )
        ends = seen | set(COORDINATOR_ENDPOINTS)
        pairs: set[frozenset[str]] = set()
        for i, l in enumerate(self.links):
            for end, key in ((l.a, "a"), (l.b, "b")):
                if end not in ends:
                    raise HelixInputError(src, f"links[{i}].{key}", "link to an unknown machine", end)
            if l.a == l.b:
                raise HelixInputError(src, f"links[{i}]", "self-link", l.a)
            if {l.a, l.b} == set(COORDINATOR_ENDPOINTS):
                raise HelixInputError(src, f"links[{i}]", "source and sink cannot be linked directly")
            if not (l.bandwidth > 0):
                raise HelixInputError(src, f"links[{i}].bandwidth", "must be positive (bytes/s)", l.bandwidth)
            if not (l.latency >= 0):
                raise HelixInputError(src, f"links[{i}].latency", "must be non-negative (s)", l.latency)
            if math.isinf(l.bandwidth) or math.isinf(l.latency):
                raise HelixInputError(
                    src, f"links[{i}]", "bandwidth and latency must be finite", f"{l.bandwidth}, {l.latency}"
                )
            key = frozenset((l.a, l.b))
            if key in pairs:
                raise HelixInputError(src, f"links[{i}]", "duplicate link", f"{l.a}-{l.b}")
            pairs.add(key)
        for key, value in asdict(self.coordinator).items():
            if not (0 < value < math.inf):
                raise HelixInputError(
                    src, f"coordinator.{key}", "must be positive and finite (bytes/s)", value
                )
        return self

    def has_route(self) -> bool:
        """Whether some path leads from the coordinator (source) through machines back to it (sink).

        Without one every layout has max-flow 0: placement refuses such a cluster rather than
        writing a layout that serves nothing.
        """
        adjacent: dict[str, set[str]] = {}
        for l in self.links:
            adjacent.setdefault(l.a, set()).add(l.b)
            adjacent.setdefault(l.b, set()).add(l.a)
        seen, todo = {SOURCE}, [SOURCE]
        while todo:
            for nxt in adjacent.get(todo.pop(), ()):
                if nxt == SINK:
                    return True
                if nxt not in seen and nxt != SOURCE:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    def check_routable(self, source: str | Path | None = None) -> "Cluster":
        if not self.has_route():
            raise HelixInputError(
                source or f"cluster {self.name}",
                "links",
                "no route from the coordinator (source) through the machines to the sink: "
                "every layout would serve 0 tokens/s",
            )
        return self

    # ----- YAML ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "coordinator": asdict(self.coordinator),
            "machines": [asdict(m) for m in self.machines],
            "links": [asdict(l) for l in self.links],
        }

    @classmethod
    def from_dict(cls, data: dict, source: str | Path | None = None) -> "Cluster":
        src = source or "cluster"
        if not isinstance(data, dict):
            raise HelixInputError(src, None, "a cluster file must be a mapping")
        for key in ("name", "machines", "links"):
            if key not in data:
                raise HelixInputError(src, key, "missing")
        for key in ("machines", "links"):
            if not isinstance(data[key] or [], list):
                raise HelixInputError(src, key, "must be a list", data[key])
        machines = []
        for i, m in enumerate(data["machines"] or []):
            for key in ("name", "gpu"):
                if not isinstance(m, dict) or key not in m:
                    raise HelixInputError(src, f"machines[{i}].{key}", "missing")
            machines.append(
                Machine(name=str(m["name"]), gpu=str(m["gpu"]), region=str(m.get("region", "default")))
            )
        links = []
        for i, l in enumerate(data["links"] or []):
            for key in ("a", "b", "bandwidth", "latency"):
                if not isinstance(l, dict) or key not in l:
                    raise HelixInputError(src, f"links[{i}].{key}", "missing")
            try:
                bw, lat = float(l["bandwidth"]), float(l["latency"])
            except (TypeError, ValueError):
                raise HelixInputError(
                    src, f"links[{i}]", "bandwidth and latency must be numbers", l
                ) from None
            links.append(Link(a=str(l["a"]), b=str(l["b"]), bandwidth=bw, latency=lat))
        coord = data.get("coordinator") or {}
        known = {f for f in Coordinator.__dataclass_fields__}
        if not isinstance(coord, dict) or not set(coord) <= known:
            raise HelixInputError(src, "coordinator", f"must map {sorted(known)} to bytes/s", coord)
        try:
            coordinator = Coordinator(**{k: float(v) for k, v in coord.items()})
        except (TypeError, ValueError):
            raise HelixInputError(src, "coordinator", "NIC speeds must be numbers (bytes/s)", coord) from None
        cluster = cls(
            name=str(data["name"]),
            machines=machines,
            links=links,
            coordinator=coordinator,
            description=str(data.get("description", "")),
        )
        return cluster.validate(src)

    def save(self, path: str | Path) -> None:
        write_yaml(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path, known_gpus: Iterable[str] | None = None) -> "Cluster":
        path = Path(path)
        data = read_yaml(path, "cluster file")
        cluster = cls.from_dict(data, path)
        if known_gpus is not None:
            cluster.validate(path, known_gpus)
        return cluster
