"""Registry of stage engines: what a worker runs for its layer range.

A new backend is one module here that subclasses ``StageEngine`` and decorates itself with
``@register("name")``, plus its module in ``ENGINES``' ``modules`` (helix.registry: an engine's
import is heavy, so engines are named rather than discovered). Only ``torch`` exists: a vLLM
backend cannot serve arbitrary per-request layer sub-ranges with its supported API and cannot be installed
on our CPU CI nor on the lent GPU machine (docs/design/prototype.md s9b-c), so none is shipped.
"""

from __future__ import annotations

from helix.prototype.engines.base import StageEngine, StageOutput, StageWork
from helix.registry import Registry

ENGINES: Registry[type[StageEngine]] = Registry(
    "prototype engine", modules={"torch": "helix.prototype.engines.torch_engine"}, field="engine"
)
register = ENGINES.register


def available() -> list[str]:
    return ENGINES.choices()


def get_engine(name: str) -> type[StageEngine]:
    return ENGINES.get(name)


__all__ = ["StageEngine", "StageOutput", "StageWork", "ENGINES", "register", "get_engine", "available"]
