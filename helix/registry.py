"""One registry type for every family of interchangeable parts: name -> class (or function).

Schedulers, placement methods, MILP backends, prototype engines and figure builders each keep one
:class:`Registry`. A new member is one file holding the class plus one registration
(``@FAMILY.register("name")``); the registry finds the file by importing its family's package
(``package=``, every module in it) or its declared modules (``modules=``, for members whose import
is heavy, such as a torch engine). Rules build their wildcard constraints from :meth:`choices`, so
a new member is reachable from the workflow without editing a pattern by hand.

Modules named in the environment variable ``HELIX_PLUGINS`` (comma-separated, importable from
``PYTHONPATH``) are imported before the first lookup: a member can live outside the repository.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from helix.errors import HelixInputError

T = TypeVar("T")
PLUGINS_ENV = "HELIX_PLUGINS"


def load_plugins() -> None:
    """Import the modules named in ``$HELIX_PLUGINS`` (each registers itself on import)."""
    for mod in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(mod)


class Registry(Generic[T]):
    """Members of one family by name.

    ``family`` names it in errors ("unknown scheduler ..."); ``source``/``field`` say where a name
    came from in a :class:`HelixInputError`. ``package`` is imported module by module on first use;
    ``modules`` maps a member name to the module that registers it, imported only when that member
    is asked for (its name is a choice before that).
    """

    def __init__(
        self,
        family: str,
        *,
        package: str | None = None,
        modules: Mapping[str, str] | None = None,
        source: str | None = None,
        field: str | None = None,
    ):
        self.family = family
        self.package = package
        self.modules = dict(modules or {})
        self.source = source
        self.field = field or family
        self._members: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str):
        """Decorator: ``@REG.register("name")`` on a class (its ``name`` attribute is set) or function."""

        def deco(obj: T) -> T:
            if name in self._members and self._members[name] is not obj:
                raise ValueError(f"{self.family} {name!r} registered twice")
            if isinstance(obj, type):
                obj.name = name
            self._members[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self.package:
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__):
                importlib.import_module(f"{self.package}.{info.name}")
        load_plugins()

    def get(self, name: str) -> T:
        """The member registered as ``name``; an unknown name is a one-line input error."""
        self._load()
        if name not in self._members and name in self.modules:
            importlib.import_module(self.modules[name])
        if name not in self._members:
            raise HelixInputError(
                self.source, self.field, f"unknown {self.family} (known: {', '.join(self.choices())})", name
            )
        return self._members[name]

    def choices(self, exclude: Iterable[str] = ()) -> list[str]:
        """Every member name, sorted (lazy ``modules`` members included, none imported)."""
        self._load()
        skip = set(exclude)
        return sorted((set(self._members) | set(self.modules)) - skip)

    def pattern(self, exclude: Iterable[str] = (), extra: Iterable[str] = ()) -> str:
        """A regex alternation of the names (plus ``extra`` regexes): a Snakemake wildcard constraint."""
        return "|".join([re.escape(n) for n in self.choices(exclude)] + list(extra))

    def __contains__(self, name: str) -> bool:
        return name in self.choices()
