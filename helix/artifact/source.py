"""Where the authors' artifact is: one resolver for every rule, script and CLI command.

The artifact is found, in this order: ``$HELIX_ARTIFACT_DIR``; the config key ``artifact.path``;
the clone the rule ``fetch_artifact`` makes at ``resources/helix-artifact`` (pinned commit).

A rule that reads the artifact takes :meth:`ArtifactSource.inputs` as an input (the clone's
``COMMIT`` marker, an output of ``fetch_artifact``, when the artifact is cloned; nothing for a
local copy) and :attr:`ArtifactSource.root` as a param. Files inside the artifact are never rule
outputs, so a rule that reads one takes :meth:`file_input` (the marker when cloned, the file
itself for a local copy, so editing it reruns the rule). Scripts read the root from the param and
never guess it from an input's folder: one way, whichever way the artifact came.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ARTIFACT_PREFIX = "artifact:"
CLONE_DIR = "resources/helix-artifact"
CLONE_MARKER = f"{CLONE_DIR}/COMMIT"  # written last by rule fetch_artifact
ENV_VAR = "HELIX_ARTIFACT_DIR"


class ArtifactSource:
    """The artifact root for one configuration (``artifact.path``) and environment."""

    def __init__(self, path: str | Path | None = None, env: Mapping[str, str] | None = None):
        """``path`` is the config's ``artifact.path``; ``$HELIX_ARTIFACT_DIR`` wins over it."""
        env = os.environ if env is None else env
        named = env.get(ENV_VAR) or path
        self.cloned = not named
        self.root = str(named) if named else CLONE_DIR

    @classmethod
    def from_config(cls, cfg, env: Mapping[str, str] | None = None) -> "ArtifactSource":
        return cls(cfg.artifact.path, env)

    @classmethod
    def from_config_dict(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "ArtifactSource":
        """From the raw (merged) config a script sees as ``snakemake.config``."""
        return cls((config.get("artifact") or {}).get("path"), env)

    @classmethod
    def at(cls, root: str | Path) -> "ArtifactSource":
        """A copy named explicitly (a ``--artifact`` option, a rule's param): nothing overrides it."""
        return cls(root, env={})

    def inputs(self) -> list[str]:
        """Rule input standing for the whole artifact: the clone's marker, or nothing."""
        return [CLONE_MARKER] if self.cloned else []

    def path(self, path: str | Path) -> Path:
        """``artifact:<rel>`` -> the root / rel; any other path as given."""
        text = str(path)
        if text.startswith(ARTIFACT_PREFIX):
            return Path(self.root) / text[len(ARTIFACT_PREFIX) :]
        return Path(text)

    def file_input(self, path: str | Path) -> list[str]:
        """Rule input for one file: inside a cloned artifact the marker stands for it."""
        if str(path).startswith(ARTIFACT_PREFIX) and self.cloned:
            return self.inputs()
        return [str(self.path(path))]


def artifact_root(explicit: str | Path | None = None, cfg=None) -> Path:
    """The root for a CLI command: its ``--artifact`` option, else the config's resolution."""
    if explicit:
        return Path(ArtifactSource.at(explicit).root)
    return Path((ArtifactSource.from_config(cfg) if cfg is not None else ArtifactSource()).root)
