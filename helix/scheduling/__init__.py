"""Request schedulers, one file each, registered by name (helix, swarm, random, shortest_queue).

A new scheduler is one module in this package defining a
:class:`~helix.scheduling.base.Scheduler` subclass decorated ``@register("name")``: the registry
imports every module here, the config accepts the name and the simulate/prototype rules' wildcard
constraint (``SCHEDULERS.pattern()``) matches it. A scheduler outside the repository is the same
file on ``PYTHONPATH`` named in ``$HELIX_PLUGINS`` (helix.registry).
"""

from __future__ import annotations

from helix.registry import Registry
from helix.scheduling.base import SINK_ID, SOURCE_ID, LinkView, NodeView, Scheduler, Topology

SCHEDULERS: Registry[type[Scheduler]] = Registry(
    "scheduler", package=__name__, source="scheduler", field="name"
)
register = SCHEDULERS.register


def scheduler_names() -> list[str]:
    return SCHEDULERS.choices()


def make_scheduler(name: str, topo: Topology, **options) -> Scheduler:
    """Instantiate the scheduler registered under ``name`` for one placement."""
    return SCHEDULERS.get(name)(topo, **options)


__all__ = [
    "SCHEDULERS",
    "register",
    "make_scheduler",
    "scheduler_names",
    "Scheduler",
    "Topology",
    "NodeView",
    "LinkView",
    "SOURCE_ID",
    "SINK_ID",
]
