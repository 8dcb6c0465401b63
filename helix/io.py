"""Atomic file writing: a failed or interrupted run must leave no partial output behind.

Snakemake deletes outputs of failed jobs, but the library is also used directly (CLI, notebooks),
so every writer goes through a temporary file in the same directory and an atomic rename.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml


def current_umask() -> int:
    """The process umask, read without changing it where the OS says it (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    ``mkstemp`` creates the file 0600; before the rename it gets the mode a plain ``open`` would
    have given it (0666 less the umask), so outputs are as readable as the user's other files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


# The C implementations are ~10x faster on a 42-machine cluster; fall back where libyaml is missing.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def write_yaml(path: str | Path, data: Any) -> None:
    write_text(path, dump_yaml(data))


# ---- reading: every input file through these, so a bad one is one line naming file and line ----
def _read_text(path: str | Path, what: str) -> str:
    from helix.errors import HelixInputError

    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, f"{what} not found")
    try:
        return path.read_text()
    except UnicodeDecodeError as exc:
        raise HelixInputError(path, None, f"not a text file (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise HelixInputError(path, None, f"cannot read: {exc.strerror or exc}") from None


def yaml_error(path: str | Path | None, exc: Exception):
    """A YAML parse error as a HelixInputError naming the file and the line."""
    from helix.errors import HelixInputError

    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = (
        getattr(exc, "problem", None) or getattr(exc, "context", None) or (str(exc).splitlines() or ["?"])[0]
    )
    where = f"line {mark.line + 1}" if mark is not None else None
    return HelixInputError(path, where, f"not valid YAML: {problem}")


def parse_yaml(text: str, path: str | Path | None = None) -> Any:
    """``load_yaml`` with one-line errors (a scanner/parser error, or a scalar such as a date
    ``2024-13-01`` that the loader cannot construct)."""
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise yaml_error(path, exc) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        from helix.errors import HelixInputError

        raise HelixInputError(
            path, None, f"not valid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """A YAML file's data; a missing, unreadable or malformed file is a one-line HelixInputError."""
    return parse_yaml(_read_text(path, what), path)


def read_json(path: str | Path, what: str = "file") -> Any:
    """A JSON file's data; a missing, empty, truncated or malformed file is a one-line HelixInputError."""
    from helix.errors import HelixInputError

    text = _read_text(path, what)
    if not text.strip():
        raise HelixInputError(path, None, "empty file (an interrupted write?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HelixInputError(path, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise HelixInputError(path, None, f"not valid JSON: {exc}") from None
