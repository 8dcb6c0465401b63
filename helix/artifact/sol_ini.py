"""The artifact's ``*_sol.ini`` layout files <-> :class:`helix.layout.Layout`.

Format (docs/design/placement.md section 8): ``[Settings] offset=2`` and ``[Solution]``
``compute_node_{i+offset}=[contiguous layer ids]``; ids 0 and 1 are the simulator's source and sink,
hence the offset (docs/design/placement.md trap 8). Node i is the i-th compute node of the cluster
file, which the project names ``n{i}`` for clusters built from the paper. Values are read with
``ast.literal_eval`` (never ``eval``) and must be contiguous ascending integer lists.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helix.cluster import Cluster
from helix.artifact.ini import parse_ini
from helix.errors import HelixInputError
from helix.io import write_text
from helix.layout import Layout


def read_sol_ini(
    path: str | Path, num_layers: int, cluster: Cluster | None = None, prefix: str = "n"
) -> Layout:
    """Layout from a solution file; with ``cluster``, machine i is ``cluster.machines[i]``.

    Without a cluster the machine names are ``{prefix}{i}``. A node index beyond the cluster, or a
    range outside [0, num_layers), is a one-line error naming the file and key.
    """
    path = Path(path)
    parser = parse_ini(path, "solution file")
    if not parser.has_section("Solution"):
        raise HelixInputError(path, "Solution", "missing section")
    try:
        offset = parser.getint("Settings", "offset", fallback=2)
    except ValueError:
        raise HelixInputError(
            path, "Settings.offset", "must be an integer", parser.get("Settings", "offset")
        ) from None
    ranges: dict[str, tuple[int, int] | None] = {}
    for key, raw in parser.items("Solution"):
        if not key.startswith("compute_node_") or not key[len("compute_node_") :].isdigit():
            raise HelixInputError(path, f"Solution.{key}", "expected compute_node_<int>")
        i = int(key[len("compute_node_") :]) - offset
        try:
            layers = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise HelixInputError(path, f"Solution.{key}", "not a list of layer ids", raw) from None
        if not isinstance(layers, list) or not all(isinstance(x, int) for x in layers):
            raise HelixInputError(path, f"Solution.{key}", "not a list of layer ids", raw)
        if cluster is not None:
            if not 0 <= i < cluster.n:
                raise HelixInputError(
                    path,
                    f"Solution.{key}",
                    f"node {i} is not in cluster {cluster.name} ({cluster.n} machines)",
                    raw,
                )
            name = cluster.machines[i].name
        else:
            if i < 0:
                raise HelixInputError(path, f"Solution.{key}", f"index below offset {offset}")
            name = f"{prefix}{i}"
        if not layers:
            ranges[name] = None
            continue
        s, e = min(layers), max(layers) + 1
        if sorted(layers) != list(range(s, e)):
            raise HelixInputError(path, f"Solution.{key}", "layers must be contiguous", raw)
        if s < 0 or e > num_layers:
            raise HelixInputError(path, f"Solution.{key}", f"layers must lie in [0, {num_layers})", raw)
        ranges[name] = (s, e)
    layout = Layout(num_layers=num_layers, ranges=ranges)
    if cluster is not None:
        for m in cluster.machines:
            layout.ranges.setdefault(m.name, None)
        layout.ranges = {m.name: layout.ranges[m.name] for m in cluster.machines}
    return layout


def format_sol_ini(layout: Layout, cluster: Cluster, offset: int = 2) -> str:
    lines = ["[Settings]", f"offset={offset}", "", "[Solution]"]
    for i, m in enumerate(cluster.machines):
        rng = layout.ranges.get(m.name)
        layers = list(range(rng[0], rng[1])) if rng else []
        lines.append(f"compute_node_{i + offset}={layers}")
    return "\n".join(lines) + "\n"


def write_sol_ini(layout: Layout, cluster: Cluster, path: str | Path, offset: int = 2) -> None:
    """Write the artifact format, node i = position of the machine in ``cluster``."""
    write_text(path, format_sol_ini(layout, cluster, offset))
