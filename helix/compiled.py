"""Which copy of a plain-Python event loop runs: the reference, or its compiled copy.

Why one module: the simulator's loop (``helix.sim.loop`` -> ``helix.sim._loop_c``) and the served
estimate's admission and decode replays (``helix.placement.replay_loop`` -> ``helix.placement._replay_c``,
``helix.placement.decode_loop`` -> ``helix.placement._decode_c``) are all kept as plain Python, the
reference, and compiled by ``setup.py`` with Cython when a C compiler is there, with the
sha256 of their sources appended. A compiled copy runs only when that hash matches the sources next
to it, so editing a loop never runs old compiled code, and an environment variable
(``auto``/``python``/``compiled``) picks one explicitly. Sits below placement and the simulator
(it imports neither), so both layers share it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from helix.errors import HelixInputError, HelixRunError

MODES = ("auto", "python", "compiled")


def source_hash(reference: ModuleType, names: Sequence[str]) -> str | None:
    """sha256 of the files ``names`` beside ``reference`` (the loop and its Cython declarations):
    what setup.py appends to the compiled copy it builds from them; None if one cannot be read."""
    here = Path(reference.__file__).parent
    h = hashlib.sha256()
    try:
        for name in names:
            h.update((here / name).read_bytes())
    except OSError:
        return None
    return h.hexdigest()


def current_copy(module: str, want: str | None) -> ModuleType | None:
    """The compiled module ``module`` if it is built and was built from sources of hash ``want``."""
    try:
        copy = importlib.import_module(module)  # built by setup.py; absent without a C compiler
    except ImportError:
        return None
    return copy if want is not None and getattr(copy, "SOURCE_SHA256", None) == want else None


def choose(
    env: str, what: str, reference: ModuleType, compiled: Callable[[], ModuleType | None], module: str
) -> ModuleType:
    """The loop to run by ``$env`` (default ``auto``: the current compiled copy if any, else the
    reference); ``compiled`` with no current copy is an error naming the rebuild."""
    mode = os.environ.get(env, "auto")
    if mode == "python":
        return reference
    if mode not in MODES:
        raise HelixInputError("environment", env, "must be auto, python or compiled", mode)
    core = compiled()
    if core is None and mode == "compiled":
        raise HelixRunError(
            what,
            f"{env}=compiled but {module} is missing or stale (rebuild: python setup.py build_ext --inplace)",
        )
    return core or reference
