"""The artifact's cluster .ini format <-> :class:`helix.cluster.Cluster` (docs/design/placement.md s8).

The authors' tools read and write clusters as ini files: ``[NodeNames] total_compute_nodes``,
``[SourceNode]``/``[SinkNode]`` with ``connected_nodes``, one ``[ComputeNode-i]`` per machine with
its ``type`` and ``connected_nodes``, and one ``[Link-a-b]`` per undirected link whose
``bandwidth``/``latency`` are unit expressions (``12.5 * mbps``, ``51 * MilliSec``). We read them
to compare our generated clusters with the paper's and to import hand-made clusters, and write them
so that the authors' simulator can be fed our clusters.

Machine ``i`` of an .ini becomes ``n{i}``; machine names of a Cluster are written by position, so
a cluster whose machines are not called ``n0..`` is renamed on the way through. Regions have no
place in the format; the writer records them in the header comment only. Values go through
:func:`helix.units.eval_expr` (never ``eval``) and the writer picks the shortest decimal that
evaluates back to the same float, so ini -> Cluster -> ini -> Cluster is exact.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

from helix.cluster import SINK, SOURCE, Cluster, Link, Machine
from helix.artifact.ini import parse_ini
from helix.errors import HelixInputError
from helix.io import write_text
from helix.units import eval_expr

MBPS = 1e6
MILLISEC = 1e-3
_LINK = re.compile(r"^Link-(source|\d+)-(sink|\d+)$")
_NODE = re.compile(r"^ComputeNode-(\d+)$")


# ----- reading -----------------------------------------------------------------------------
def _get(cp: configparser.ConfigParser, path: Path, section: str, key: str) -> str:
    if not cp.has_section(section):
        raise HelixInputError(path, f"[{section}]", "missing section")
    if not cp.has_option(section, key):
        raise HelixInputError(path, f"[{section}] {key}", "missing")
    return cp.get(section, key)


def _expr(cp: configparser.ConfigParser, path: Path, section: str, key: str) -> float:
    text = _get(cp, path, section, key)
    try:
        return float(eval_expr(text))
    except ValueError:
        raise HelixInputError(path, f"[{section}] {key}", "not a unit expression", text) from None


def _endpoint(token: str, n: int, path: Path, section: str) -> str:
    if token in (SOURCE, SINK):
        return token
    i = int(token)
    if i >= n:
        raise HelixInputError(
            path, f"[{section}]", f"link to an unknown machine (total_compute_nodes={n})", i
        )
    return f"n{i}"


def _connected(cp: configparser.ConfigParser, path: Path, section: str, n: int) -> set[str] | None:
    if not cp.has_option(section, "connected_nodes"):
        return None
    text = cp.get(section, "connected_nodes")
    try:
        items = ast.literal_eval(text)
        if not isinstance(items, list):
            raise ValueError
        return {_endpoint(str(x), n, path, section) for x in items}
    except (ValueError, SyntaxError):
        raise HelixInputError(path, f"[{section}] connected_nodes", "not a list of node ids", text) from None


def read_cluster_ini(path: str | Path, name: str | None = None, known_gpus=None) -> Cluster:
    """Read an artifact cluster .ini; machine i is named ``n{i}``. Bad input -> HelixInputError."""
    path = Path(path)
    cp = parse_ini(path)
    try:
        n = int(_get(cp, path, "NodeNames", "total_compute_nodes"))
    except ValueError:
        raise HelixInputError(
            path,
            "[NodeNames] total_compute_nodes",
            "not an integer",
            cp.get("NodeNames", "total_compute_nodes"),
        ) from None
    if n < 1:
        raise HelixInputError(path, "[NodeNames] total_compute_nodes", "must be at least 1", n)

    machines = []
    for i in range(n):
        gpu = _get(cp, path, f"ComputeNode-{i}", "type").strip()
        if not gpu:
            raise HelixInputError(path, f"[ComputeNode-{i}] type", "empty")
        machines.append(Machine(name=f"n{i}", gpu=gpu))

    links: list[Link] = []
    adjacency: dict[str, set[str]] = {SOURCE: set(), SINK: set(), **{m.name: set() for m in machines}}
    for section in cp.sections():
        node = _NODE.match(section)
        if node and int(node.group(1)) >= n:
            raise HelixInputError(
                path, f"[{section}]", f"machine index beyond total_compute_nodes={n}", section
            )
        if not section.startswith("Link"):
            continue
        match = _LINK.match(section)
        if not match:
            raise HelixInputError(
                path, f"[{section}]", "link section must be Link-<a>-<b> (a, b: index, source, sink)"
            )
        a, b = (_endpoint(t, n, path, section) for t in match.groups())
        if a == b:
            raise HelixInputError(path, f"[{section}]", "self-link", a)
        if (a, b) == (SOURCE, SINK):
            raise HelixInputError(path, f"[{section}]", "source and sink cannot be linked directly")
        if a.startswith("n") and b.startswith("n") and int(a[1:]) > int(b[1:]):
            a, b = b, a  # canonical orientation: lower index first
        bw = _expr(cp, path, section, "bandwidth")
        lat = _expr(cp, path, section, "latency")
        if not bw > 0:
            raise HelixInputError(path, f"[{section}] bandwidth", "must be positive (bytes/s)", bw)
        if not lat >= 0:
            raise HelixInputError(path, f"[{section}] latency", "must be non-negative (s)", lat)
        if b in adjacency[a]:
            raise HelixInputError(path, f"[{section}]", "duplicate link", f"{a}-{b}")
        adjacency[a].add(b)
        adjacency[b].add(a)
        links.append(Link(a=a, b=b, bandwidth=bw, latency=lat))

    for section, node in [("SourceNode", SOURCE), ("SinkNode", SINK)] + [
        (f"ComputeNode-{i}", f"n{i}") for i in range(n)
    ]:
        listed = _connected(cp, path, section, n) if cp.has_section(section) else None
        if listed is not None and listed != adjacency[node]:
            diff = sorted(listed ^ adjacency[node])
            raise HelixInputError(
                path, f"[{section}] connected_nodes", "does not match the [Link-*] sections", diff
            )

    cluster = Cluster(name=name or path.stem, machines=machines, links=links)
    cluster.validate(path, known_gpus)
    return cluster


# ----- writing -----------------------------------------------------------------------------
def format_value(value: float, unit: float, unit_name: str) -> str:
    """The shortest ``"<x> * unit"`` that evaluates back to exactly ``value``."""
    x = value / unit
    for digits in range(0, 18):
        text = f"{x:.{digits}f}"
        if float(text) * unit == value:
            return f"{text} * {unit_name}"
    return f"{value!r} * {'Byte' if unit_name.endswith('bps') else 'Sec'}"


def _index_token(name: str, index: dict[str, int]) -> str:
    return name if name in (SOURCE, SINK) else str(index[name])


def _section(link: Link, index: dict[str, int]) -> tuple[str, list[str]]:
    a, b = _index_token(link.a, index), _index_token(link.b, index)
    if b == SOURCE or a == SINK:
        a, b = b, a
    if a not in (SOURCE, SINK) and b not in (SOURCE, SINK) and int(a) > int(b):
        a, b = b, a
    return f"Link-{a}-{b}", [a, b]


def _node_list(tokens: set[str]) -> str:
    """Sorted as the artifact: 'source' first, indices ascending, 'sink' last."""
    ordered = (
        ([SOURCE] if SOURCE in tokens else [])
        + sorted((int(t) for t in tokens if t not in (SOURCE, SINK)))
        + ([SINK] if SINK in tokens else [])
    )
    return repr(ordered)


def cluster_ini_text(cluster: Cluster, header: str | None = None) -> str:
    """The artifact .ini text of a cluster (links in the cluster's order, canonical orientation)."""
    cluster.validate()
    index = cluster.index()
    adjacency: dict[str, set[str]] = {SOURCE: set(), SINK: set(), **{str(i): set() for i in range(cluster.n)}}
    sections = []
    for link in cluster.links:
        name, (a, b) = _section(link, index)
        adjacency[a].add(b)
        adjacency[b].add(a)
        sections.append(
            f"[{name}]\nbandwidth={format_value(link.bandwidth, MBPS, 'mbps')}\n"
            f"latency={format_value(link.latency, MILLISEC, 'MilliSec')}\n"
        )
    lines = [f"# Cluster {cluster.name}, written by helix-workflow (helix.artifact.cluster_ini)"]
    for text in filter(None, [cluster.description, header]):
        lines += [f"# {line}" for line in text.splitlines()]
    regions: dict[str, list[int]] = {}
    for i, m in enumerate(cluster.machines):
        regions.setdefault(m.region, []).append(i)
    if len(regions) > 1:
        lines += [f"#     region {r}: {idx}" for r, idx in regions.items()]
    names = [m.name for m in cluster.machines]
    if names != [f"n{i}" for i in range(cluster.n)]:
        lines += [f"#     ComputeNode-{i} = {nm}" for i, nm in enumerate(names)]
    out = "\n".join(lines) + "\n\n"
    out += f"[NodeNames]\ntotal_compute_nodes={cluster.n}\n\n"
    out += f"[SourceNode]\nconnected_nodes={_node_list(adjacency[SOURCE])}\n\n"
    out += f"[SinkNode]\nconnected_nodes={_node_list(adjacency[SINK])}\n\n"
    for i, m in enumerate(cluster.machines):
        out += f"[ComputeNode-{i}]\ntype={m.gpu}\nconnected_nodes={_node_list(adjacency[str(i)])}\n\n"
    out += "\n".join(sections)
    return out


def write_cluster_ini(cluster: Cluster, path: str | Path, header: str | None = None) -> None:
    """Write a cluster in the artifact's .ini format (atomically)."""
    write_text(path, cluster_ini_text(cluster, header))


# ----- machine profiles --------------------------------------------------------------------
PROFILE_KEYS = ("inbound_nic_speed", "outbound_nic_speed", "disk_speed", "vram_size")


def read_machine_profiles(path: str | Path) -> dict[str, dict[str, float | None]]:
    """machine_profiles.ini -> {type: {key: value}}, values in bytes or bytes/s, -1 (n/a) -> None.

    Includes the coordinator's ``SourceNode``/``SinkNode`` sections as the file does.
    """
    path = Path(path)
    cp = parse_ini(path)
    profiles: dict[str, dict[str, float | None]] = {}
    for section in cp.sections():
        entry: dict[str, float | None] = {}
        for key in PROFILE_KEYS:
            value = _expr(cp, path, section, key)
            entry[key] = None if value == -1 else value
        profiles[section] = entry
    if not profiles:
        raise HelixInputError(path, None, "no machine profiles")
    return profiles


def gpu_catalogue_from_profiles(profiles: dict[str, dict[str, float | None]]) -> dict[str, dict]:
    """The project's ``gpus:`` entries (GpuType fields) implied by a machine_profiles.ini.

    GPUs per machine come from the type name's ``x<k>`` suffix (T4x4 -> 4), as the artifact names them.
    """
    out = {}
    for name, p in profiles.items():
        if name in ("SourceNode", "SinkNode"):
            continue
        m = re.search(r"x(\d+)$", name)
        out[name] = {
            "num_gpus": int(m.group(1)) if m else 1,
            "vram_bytes": p["vram_size"],
            "nic_in": p["inbound_nic_speed"],
            "nic_out": p["outbound_nic_speed"],
            "disk": p["disk_speed"],
        }
    return out
