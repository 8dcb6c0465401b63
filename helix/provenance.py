"""What produced a result: package versions and the git revision of the code, looked up in one place.

Every meta.json (placement, simulation, prototype run) and every rule log carries these, so a file
can be traced to the code that wrote it. No timestamps: reruns stay byte-identical.
"""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path


@functools.cache
def git_revision() -> str | None:
    """The commit of the checkout holding this package (not of the working directory), or None."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def versions(packages: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """Installed version of each distribution, None for one that is not installed."""
    found: dict[str, str | None] = {}
    for pkg in packages:
        try:
            found[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            found[pkg] = None
    return found


def provenance(packages: tuple[str, ...] | list[str] = ()) -> dict:
    """``{"versions": ..., "git_revision": ...}`` for helix-workflow plus ``packages``."""
    names = ["helix-workflow", *(p for p in packages if p != "helix-workflow")]
    return {"versions": versions(names), "git_revision": git_revision()}
