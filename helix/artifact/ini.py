"""Opening the artifact's ini files with one-line errors, shared by every ini importer."""

from __future__ import annotations

import configparser
from pathlib import Path

from helix.errors import HelixInputError


def parse_ini(path: str | Path, what: str = "file") -> configparser.ConfigParser:
    """Parse an ini file keeping key case and without interpolation; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, f"{what} not found")
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keep key case
    try:
        cp.read_string(path.read_text(), source=str(path))
    except configparser.DuplicateSectionError as exc:
        raise HelixInputError(path, f"[{exc.section}]", "duplicate section") from None
    except configparser.DuplicateOptionError as exc:
        raise HelixInputError(path, f"[{exc.section}] {exc.option}", "duplicate key") from None
    except configparser.Error as exc:
        raise HelixInputError(path, None, f"not a valid ini file: {str(exc).splitlines()[0]}") from None
    return cp
