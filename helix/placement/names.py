"""What a method name in a result path means: the one place that parses ``paper-<m>``,
``helix-<variant>`` and ``<paper layout>@graph``.

Names beyond the registered placement methods (helix.placement.base.METHODS):

* ``paper-<m>``: the authors' layout of method ``<m>`` (helix, swarm, petals, separate, sp_plus,
  helix-noprune, helix-sched), imported from the artifact by the ``paper`` method; a simulation of
  it runs on the artifact's own placement graph (``simulator_cluster.ini``), as the reproduction
  tables need (docs/metrics.md "One placement graph per layout").
* ``paper-<m>@graph``: the same layout simulated through our own-layout path
  (:mod:`helix.sim.graph`, the path of every layout our planners make), so that a figure comparing
  the paper's layouts with ours runs both through one path. It is a simulation name only: no
  placement rule makes it (its layout is the artifact's solution file).
* ``helix-<variant>``: the helix planner under the preset the config's ``placement`` mapping gives
  that name (ablations: helix-pruned, helix-noprune, helix-nowarm).

Nothing here imports the rest of the package, so figures and rules can ask cheaply.
"""

from __future__ import annotations

import re

PAPER_PREFIX = "paper-"
# the placement rule's: whole-cluster and per-type paper layouts, and the two with a hyphen
# (paper-helix-noprune, paper-helix-sched)
PAPER_PATTERN = "paper-[a-z_]+(?:-[a-z0-9]+)?"
GRAPH_SUFFIX = "@graph"
HELIX_VARIANT = re.compile(r"[a-z0-9]+")
HELIX_FAMILY_PATTERN = f"helix(-{HELIX_VARIANT.pattern})?"


def paper_name(method: str) -> str:
    """``helix`` -> ``paper-helix``: the name of the authors' layout of ``method``."""
    return PAPER_PREFIX + method


def paper_method(name: str) -> str | None:
    """The authors' method of a paper layout (``paper-helix@graph`` -> ``helix``), else None."""
    layout = layout_method(name)
    return layout[len(PAPER_PREFIX) :] if layout.startswith(PAPER_PREFIX) else None


def is_paper(name: str) -> bool:
    """Whether ``name`` is one of the authors' layouts (on either simulation path)."""
    return paper_method(name) is not None


def layout_method(name: str) -> str:
    """The layout a simulation name runs: ``paper-helix@graph`` -> ``paper-helix``."""
    return name.removesuffix(GRAPH_SUFFIX)


def on_graph_path(name: str) -> str:
    """The name that simulates ``name``'s layout through our own-layout path (helix.sim.graph)."""
    return name + GRAPH_SUFFIX if reads_artifact_graph(name) else name


def reads_artifact_graph(name: str) -> bool:
    """Whether a simulation of ``name`` runs on the artifact's placement graph (``paper-<m>``);
    every other name runs through helix.sim.graph."""
    return is_paper(name) and not name.endswith(GRAPH_SUFFIX)


def helix_variant(name: str) -> str | None:
    """The variant of a ``helix-<variant>`` name ("" for plain ``helix``), else None."""
    if name == "helix":
        return ""
    if name.startswith("helix-") and HELIX_VARIANT.fullmatch(name[len("helix-") :]):
        return name[len("helix-") :]
    return None


def base_method(name: str) -> str:
    """The algorithm behind a name: ``paper-petals@graph`` -> ``petals``, ``helix-pruned`` -> ``helix``."""
    name = paper_method(name) or name
    variant = helix_variant(name)
    return "helix" if variant else name
