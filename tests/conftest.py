"""Shared fixtures. Tests read the reference artifact from ../shared (CI sets HELIX_ARTIFACT_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_DEFAULT_ARTIFACT = REPO.parent / "shared" / "reference" / "helix-artifact"
os.environ.setdefault("HELIX_ARTIFACT_DIR", str(_DEFAULT_ARTIFACT))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def artifact_dir() -> Path:
    path = Path(os.environ["HELIX_ARTIFACT_DIR"])
    if not path.is_dir():
        pytest.skip(f"reference artifact not found at {path}")
    return path
