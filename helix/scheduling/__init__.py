"""Request schedulers, one file each, registered by name (helix, swarm, random, shortest_queue).

A new scheduler is one module defining a :class:`~helix.scheduling.base.Scheduler` subclass with
``@register("name")`` plus one line in ``_MODULES`` below.
"""

from __future__ import annotations

import importlib

from helix.errors import HelixInputError
from helix.scheduling.base import SINK_ID, SOURCE_ID, LinkView, NodeView, Scheduler, Topology

REGISTRY: dict[str, type[Scheduler]] = {}
_MODULES = ("helix.scheduling.helix", "helix.scheduling.swarm", "helix.scheduling.naive", "helix.scheduling.shortest_queue")


def register(name: str):
    def deco(cls):
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return deco


def _load() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def scheduler_names() -> list[str]:
    _load()
    return sorted(REGISTRY)


def make_scheduler(name: str, topo: Topology, **options) -> Scheduler:
    """Instantiate the scheduler registered under ``name`` for one placement."""
    _load()
    if name not in REGISTRY:
        raise HelixInputError("scheduler", "name", f"unknown scheduler (known: {', '.join(sorted(REGISTRY))})", name)
    return REGISTRY[name](topo, **options)


__all__ = ["REGISTRY", "register", "make_scheduler", "scheduler_names", "Scheduler", "Topology", "NodeView", "LinkView", "SOURCE_ID", "SINK_ID"]
