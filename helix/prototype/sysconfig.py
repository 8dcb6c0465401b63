"""The system config: who is who on the wire, generated from a placement (docs/design/prototype.md s2, s10).

Node 0 is the host (source and sink); workers are 1..N in the cluster's machine order. Each node
has an address and a data port (its PULL socket binds there; senders connect), in/out neighbours
(the placement graph's edges) and its held layer range. The host also binds a control port
(heartbeats, readiness) and a broadcast port (stop, dead workers, aborts).

Edges, as the paper's routing needs them: host -> v if v holds layer 0; u -> v if v holds layer
``u.end`` (v runs the suffix ``[u.end, v.end)``: the partial hand-over of overlapping placements);
u -> host if u ends at L. Where a cluster is given, a machine-to-machine edge also needs a cluster
link. Everything binds to loopback unless the config names another address.

``keys``: one random secret per node, with which it signs what it sends (``transport.mac``), so a
receiver can tell a message from a peer from one that only claims to be. They live in the run's
work directory (and travel to Ray workers with the config); ``public_dict`` leaves them out of
everything written as a result.
"""

from __future__ import annotations

import secrets
import socket
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from helix.cluster import SINK, SOURCE, Cluster
from helix.errors import HelixInputError
from helix.io import write_yaml
from helix.layout import Layout

HOST_ID = 0
LOOPBACK = "127.0.0.1"


@dataclass
class NodeConf:
    id: int
    name: str  # machine name ("host" for node 0)
    gpu: str
    address: str
    port: int
    start: int  # -1 for the host
    end: int
    in_nodes: list[int] = field(default_factory=list)
    out_nodes: list[int] = field(default_factory=list)


@dataclass
class SystemConfig:
    num_layers: int
    nodes: list[NodeConf]
    control_port: int
    broadcast_port: int
    keys: dict[int, str] = field(default_factory=dict)  # node id -> hex secret

    def key_bytes(self) -> dict[int, bytes] | None:
        """Node id -> MAC key; None when the config has no keys (then nothing is authenticated)."""
        return {int(k): bytes.fromhex(v) for k, v in self.keys.items()} if self.keys else None

    def key_of(self, nid: int) -> bytes | None:
        k = self.keys.get(nid)
        return bytes.fromhex(k) if k else None

    @property
    def host(self) -> NodeConf:
        return self.nodes[0]

    @property
    def workers(self) -> list[NodeConf]:
        return self.nodes[1:]

    def node(self, nid: int) -> NodeConf:
        return self.nodes[nid]

    def loop_targets(self, nid: int) -> list[int]:
        """First-stage workers a last-stage worker ``nid`` sends next decodes to (the host's
        out-neighbours; none for a worker whose range does not end at L): the decode loop-back."""
        return list(self.host.out_nodes) if HOST_ID in self.nodes[nid].out_nodes else []

    def loop_sources(self, nid: int) -> list[int]:
        """Last-stage workers that may send first-stage worker ``nid`` a next decode (loop-back)."""
        return list(self.host.in_nodes) if nid in self.host.out_nodes else []

    def endpoint(self, nid: int) -> str:
        n = self.nodes[nid]
        return f"tcp://{n.address}:{n.port}"

    def control_endpoint(self) -> str:
        return f"tcp://{self.host.address}:{self.control_port}"

    def broadcast_endpoint(self) -> str:
        return f"tcp://{self.host.address}:{self.broadcast_port}"

    def to_dict(self) -> dict:
        return {
            "num_layers": self.num_layers,
            "control_port": self.control_port,
            "broadcast_port": self.broadcast_port,
            "nodes": [asdict(n) for n in self.nodes],
            "keys": {int(k): v for k, v in self.keys.items()},
        }

    def public_dict(self) -> dict:
        """``to_dict`` without the secrets: what a run writes next to its results."""
        d = self.to_dict()
        d.pop("keys")
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "system config") -> "SystemConfig":
        try:
            nodes = [NodeConf(**n) for n in d["nodes"]]
            keys = {int(k): str(v) for k, v in (d.get("keys") or {}).items()}
            cfg = cls(int(d["num_layers"]), nodes, int(d["control_port"]), int(d["broadcast_port"]), keys)
        except (KeyError, TypeError, ValueError) as exc:
            raise HelixInputError(source, None, f"malformed system config: {exc}") from None
        for i, n in enumerate(cfg.nodes):
            if n.id != i:
                raise HelixInputError(source, f"nodes[{i}].id", "ids must be 0..N in order", n.id)
        return cfg

    def save(self, path: str | Path, public: bool = False) -> None:
        write_yaml(path, self.public_dict() if public else self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "SystemConfig":
        path = Path(path)
        if not path.is_file():
            raise HelixInputError(path, None, "system config not found")
        return cls.from_dict(yaml.safe_load(path.read_text()), str(path))


def free_ports(n: int, address: str = LOOPBACK) -> list[int]:
    """n distinct ports free right now (bound then released; a small race we accept for local runs)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((address, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            with closing(s):
                pass


def placement_edges(
    ranges: dict[str, tuple[int, int]], num_layers: int, cluster: Cluster | None = None
) -> list[tuple[str, str]]:
    """Directed edges of the placement graph (machine names, SOURCE and SINK), see module doc."""
    linked = None
    if cluster is not None:
        linked = {frozenset((l.a, l.b)) for l in cluster.links}
    edges = []
    for v, (s, e) in ranges.items():
        if s == 0:
            edges.append((SOURCE, v))
    for u, (su, eu) in ranges.items():
        if eu == num_layers:
            edges.append((u, SINK))
            continue
        for v, (sv, ev) in ranges.items():
            if u != v and sv <= eu < ev and (linked is None or frozenset((u, v)) in linked):
                edges.append((u, v))
    return edges


def build_system_config(
    layout: Layout,
    cluster: Cluster | None = None,
    *,
    address: str = LOOPBACK,
    addresses: dict[str, str] | None = None,
    base_port: int | None = None,
) -> SystemConfig:
    """Node table for a placement. ``base_port=None`` picks free loopback ports (local runs);
    otherwise node k listens on ``base_port + k`` and the host's control/broadcast ports follow N."""
    used = layout.used()
    if cluster is not None:
        order = [m.name for m in cluster.machines if m.name in used]
        gpus = {m.name: m.gpu for m in cluster.machines}
    else:
        order, gpus = list(used), {}
    if not order:
        raise HelixInputError("layout", "layers", "no machine holds any layer")
    ids = {name: i + 1 for i, name in enumerate(order)}
    n = len(order) + 1
    ports = free_ports(n + 2, address) if base_port is None else [base_port + k for k in range(n + 2)]
    addresses = addresses or {}
    nodes = [NodeConf(HOST_ID, "host", "", addresses.get("host", address), ports[0], -1, -1)]
    for name in order:
        s, e = used[name]
        nodes.append(
            NodeConf(
                ids[name], name, gpus.get(name, ""), addresses.get(name, address), ports[ids[name]], s, e
            )
        )
    for a, b in placement_edges({k: used[k] for k in order}, layout.num_layers, cluster):
        ia = HOST_ID if a == SOURCE else ids[a]
        ib = HOST_ID if b == SINK else ids[b]
        nodes[ia].out_nodes.append(ib)
        nodes[ib].in_nodes.append(ia)
    keys = {node.id: secrets.token_hex(16) for node in nodes}
    cfg = SystemConfig(layout.num_layers, nodes, ports[n], ports[n + 1], keys)
    check_routable(cfg)
    return cfg


def check_routable(cfg: SystemConfig, dead: set[int] = frozenset()) -> bool:
    """Raise unless some host -> ... -> host path covers [0, L); with ``dead``, just answer."""
    frontier = [v for v in cfg.host.out_nodes if v not in dead]
    seen = set()
    while frontier:
        u = frontier.pop()
        if u in seen:
            continue
        seen.add(u)
        if cfg.node(u).end == cfg.num_layers:
            return True
        frontier.extend(v for v in cfg.node(u).out_nodes if v != HOST_ID and v not in dead)
    if dead:
        return False
    raise HelixInputError(
        "layout", "layers", f"no route covers layers [0, {cfg.num_layers}) in this placement"
    )
