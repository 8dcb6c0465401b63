"""Registry of stage engines: what a worker runs for its layer range.

A new backend is one module here that subclasses ``StageEngine`` and decorates itself with
``@register("name")``. Only ``torch`` exists: a vLLM backend cannot serve arbitrary per-request
layer sub-ranges with its supported API and cannot be installed on our CPU CI nor on the lent GPU
machine (prototype.md s9b-c), so none is shipped.
"""

from __future__ import annotations

import importlib

from helix.errors import HelixInputError
from helix.prototype.engines.base import StageEngine, StageOutput, StageWork

_REGISTRY: dict[str, type[StageEngine]] = {}
_MODULES = {"torch": "helix.prototype.engines.torch_engine"}


def register(name: str):
    def deco(cls: type[StageEngine]) -> type[StageEngine]:
        _REGISTRY[name] = cls
        return cls

    return deco


def available() -> list[str]:
    return sorted(set(_MODULES) | set(_REGISTRY))


def get_engine(name: str) -> type[StageEngine]:
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        raise HelixInputError(None, "engine", f"unknown prototype engine; known: {available()}", name)
    return _REGISTRY[name]


__all__ = ["StageEngine", "StageOutput", "StageWork", "register", "get_engine", "available"]
