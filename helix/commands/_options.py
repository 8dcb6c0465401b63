"""Shared error paths of the subcommands: option values checked by pydantic, output folders.

A command validates its options through the same typed models the config uses; a rejected value
is reported as one line naming the option (not pydantic's field path and documentation link),
and an output location that cannot be written is refused before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path

from helix.errors import HelixInputError


def options_error(exc, option_names: dict[str, str], section: str | None = None) -> HelixInputError:
    """The first error of a pydantic ``ValidationError`` as ``command line: --option: message (got value)``
    (``--option (section.field)`` when the option sets a field of a config section)."""
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err.get("loc") else ""
    option = option_names.get(field, f"--{field.replace('_', '-')}" if field else "options")
    if section and field:
        option = f"{option} ({section}.{field})"
    msg = err.get("msg", "invalid value")
    if "input" in err and not isinstance(err["input"], dict):
        return HelixInputError("command line", option, msg, err["input"])
    return HelixInputError("command line", option, msg)


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Refuse an output folder that cannot be made: an existing file, a file on the way, no write access."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise HelixInputError(path, option, "exists and is not a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise HelixInputError(path, option, f"{parent} is not a directory")
            if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise HelixInputError(path, option, f"cannot create it: {parent} is not writable")
            break
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise HelixInputError(path, option, "not writable")
    return path
