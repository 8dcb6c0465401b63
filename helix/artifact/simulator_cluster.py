"""The artifact's ``simulator_cluster.ini``: the placement graph a simulation runs on
(docs/design/simulator.md s2.3).

It lists the compute nodes (type, NICs, disk, VRAM and the **KV-cache capacity in token x layer
slots**, hand-set in the separate/SP+ files) and the *directed* links that are valid for the layout
(Petals files also carry partial arcs). Values are unit expressions parsed by
:func:`helix.units.eval_expr`, never ``eval``. Node order defines the simulator's uids (first
compute node = 2) and link order the link uids, both of which break ties in the simulation.
"""

from __future__ import annotations

import ast
import configparser
from dataclasses import dataclass, field
from pathlib import Path

from helix.artifact.ini import parse_ini
from helix.errors import HelixInputError
from helix.io import write_text
from helix.units import eval_expr

SOURCE = "source"
SINK = "sink"


@dataclass(frozen=True)
class SimNode:
    name: str
    machine_type: str
    vram: float  # bytes
    nic_in: float  # bytes/s
    nic_out: float
    disk: float  # bytes/s
    kv_capacity: int  # token x layer slots


@dataclass(frozen=True)
class SimLink:
    name: str
    src: str  # "source" or a node name
    dst: str  # "sink" or a node name
    latency: float  # s
    bandwidth: float  # bytes/s


@dataclass
class SimulatorCluster:
    nodes: list[SimNode]
    links: list[SimLink]
    coord_in: float = 10e9
    coord_out: float = 10e9
    source: str = field(default="", compare=False)

    def node(self, name: str) -> SimNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def _list(path: Path, parser: configparser.ConfigParser, section: str, key: str) -> list[str]:
    if not parser.has_option(section, key):
        raise HelixInputError(path, f"{section}.{key}", "missing")
    raw = parser.get(section, key)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise HelixInputError(path, f"{section}.{key}", "not a list of names", raw) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HelixInputError(path, f"{section}.{key}", "not a list of names", raw)
    return value


def _num(path: Path, parser: configparser.ConfigParser, section: str, key: str) -> float:
    if not parser.has_option(section, key):
        raise HelixInputError(path, f"{section}.{key}", "missing")
    raw = parser.get(section, key)
    try:
        return float(eval_expr(raw))
    except ValueError:
        raise HelixInputError(path, f"{section}.{key}", "not a number or unit expression", raw) from None


def read_simulator_cluster(path: str | Path) -> SimulatorCluster:
    """Parse a ``simulator_cluster.ini``; any malformed field is a one-line error naming it."""
    path = Path(path)
    parser = parse_ini(path, "simulator cluster file")
    nodes = []
    names = _list(path, parser, "ComputeNodes", "names")
    if len(set(names)) != len(names):
        raise HelixInputError(path, "ComputeNodes.names", "duplicate node name")
    for name in names:
        if not parser.has_section(name):
            raise HelixInputError(path, name, "missing section for a listed compute node")
        mtype = parser.get(name, "machine_type", fallback=None)
        if mtype is None:
            raise HelixInputError(path, f"{name}.machine_type", "missing")
        kv_raw = parser.get(name, "kv_cache_capacity", fallback=None)
        try:
            kv = int(kv_raw)
        except (TypeError, ValueError):
            raise HelixInputError(path, f"{name}.kv_cache_capacity", "must be an integer", kv_raw) from None
        nodes.append(
            SimNode(
                name=name,
                machine_type=mtype.strip().strip("\"'"),
                vram=_num(path, parser, name, "vram_size"),
                nic_in=_num(path, parser, name, "inbound_nic_speed"),
                nic_out=_num(path, parser, name, "outbound_nic_speed"),
                disk=_num(path, parser, name, "disk_speed"),
                kv_capacity=kv,
            )
        )
    known = set(names) | {SOURCE, SINK}
    links = []
    for lname in _list(path, parser, "Links", "names"):
        if not parser.has_section(lname):
            raise HelixInputError(path, lname, "missing section for a listed link")
        src = parser.get(lname, "in", fallback="").strip()
        dst = parser.get(lname, "out", fallback="").strip()
        for key, end in (("in", src), ("out", dst)):
            if end not in known:
                raise HelixInputError(
                    path, f"{lname}.{key}", "link end is not a listed node, source or sink", end
                )
        if src == SINK or dst == SOURCE or src == dst:
            raise HelixInputError(path, lname, "invalid link direction", f"{src}->{dst}")
        bw = _num(path, parser, lname, "bandwidth")
        lat = _num(path, parser, lname, "latency")
        if not bw > 0:
            raise HelixInputError(path, f"{lname}.bandwidth", "must be positive", bw)
        if not lat >= 0:
            raise HelixInputError(path, f"{lname}.latency", "must be non-negative", lat)
        links.append(SimLink(lname, src, dst, lat, bw))
    coord_in = (
        _num(path, parser, "Coordinator", "inbound_nic_speed") if parser.has_section("Coordinator") else 10e9
    )
    coord_out = (
        _num(path, parser, "Coordinator", "outbound_nic_speed") if parser.has_section("Coordinator") else 10e9
    )
    return SimulatorCluster(
        nodes=nodes, links=links, coord_in=coord_in, coord_out=coord_out, source=str(path)
    )


def _fmt(x: float) -> str:
    return repr(float(x))


def format_simulator_cluster(sc: SimulatorCluster, types: list[str] | None = None) -> str:
    """The ini text of a placement graph (byte values written as plain numbers of ``Byte``)."""
    out = [
        "[Coordinator]",
        f"inbound_nic_speed={_fmt(sc.coord_in)} * Byte",
        f"outbound_nic_speed={_fmt(sc.coord_out)} * Byte",
        "",
    ]
    types = types or sorted({n.machine_type for n in sc.nodes})
    out += [
        "[MachineTypes]",
        f"types={types!r}",
        "",
        "[ComputeNodes]",
        f"names={[n.name for n in sc.nodes]!r}",
        "",
    ]
    for n in sc.nodes:
        out += [
            f"[{n.name}]",
            f"vram_size={_fmt(n.vram)} * Byte",
            f"inbound_nic_speed={_fmt(n.nic_in)} * Byte",
            f"outbound_nic_speed={_fmt(n.nic_out)} * Byte",
            f"disk_speed={_fmt(n.disk)} * Byte",
            f'machine_type="{n.machine_type}"',
            f"kv_cache_capacity={int(n.kv_capacity)}",
            "activation_backup_capacity=0",
            "",
        ]
    out += ["[Links]", f"names={[l.name for l in sc.links]!r}", ""]
    for l in sc.links:
        out += [
            f"[{l.name}]",
            f"in={l.src}",
            f"out={l.dst}",
            f"latency={_fmt(l.latency)} * Sec",
            f"bandwidth={_fmt(l.bandwidth)} * Byte",
            "",
        ]
    return "\n".join(out)


def write_simulator_cluster(sc: SimulatorCluster, path: str | Path) -> None:
    write_text(path, format_simulator_cluster(sc))
