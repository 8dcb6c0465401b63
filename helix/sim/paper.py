"""Where the paper's own layouts live in the artifact: ``paper-<method>`` -> (solution, graph) files.

The lookup itself is :mod:`helix.artifact.paper_layouts` (shared with the placement method
``paper-<method>``); this module takes the simulation's method names (``paper-helix``,
``paper-helix-noprune@graph``).
"""

from __future__ import annotations

from pathlib import Path

from helix.artifact.paper_layouts import layout_files, layout_parts
from helix.placement.names import paper_method


def paper_parts(cluster: str, model: str, method: str) -> tuple[str, ...]:
    """Parts of a paper run (empty: one run on the whole cluster)."""
    return layout_parts(cluster, model, paper_method(method))


def paper_files(
    artifact: str | Path, cluster: str, model: str, method: str, part: str | None = None
) -> tuple[Path, Path]:
    """(``*_sol.ini``, ``simulator_cluster.ini``) of a paper layout."""
    return layout_files(artifact, cluster, model, paper_method(method), part, name=method)
