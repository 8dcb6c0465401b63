"""What the workflow will need, checked before it runs (``helix validate-config``).

The typed models (``schema.py``) check each value on its own; this checks the config against the
files and clusters the rules will read: every model's ``config_json`` exists and parses, every
cluster builds (parents first, file clusters from their file) and has a route from the
coordinator through its machines back to it, every prototype layout file exists, and a named
artifact folder exists. Files inside an artifact that the workflow will clone are checked once
it is there (``rule fetch_artifact``), not before.

It also reproduces how Snakemake reads ``--configfile``: the Snakefile's ``configfile:
config/config.yaml`` is loaded first (when it exists in the working directory) and each
``--configfile`` is merged over it, mappings key by key and everything else (lists, numbers,
strings) replaced (``merge_configs``); ``--replace-workflow-config`` drops the base instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

from helix.errors import HelixInputError

WORKFLOW_CONFIG = "config/config.yaml"  # the Snakefile's configfile:, relative to the working dir


def merge_configs(base: Mapping, overlay: Mapping) -> dict:
    """``overlay`` over ``base`` as Snakemake merges a ``--configfile`` (snakemake.utils.update_config)."""
    out = deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping):
            below = out.get(key)
            out[key] = merge_configs(below if isinstance(below, Mapping) else {}, value)
        else:
            out[key] = deepcopy(value)
    return out


def load_merged(paths: list[str | Path], base: str | Path | None = None):
    """The validated config the workflow sees for ``snakemake --configfile <paths>``, over ``base``."""
    from helix.config.schema import validate_config
    from helix.io import read_yaml

    data: dict = {}
    sources = []
    for path in ([base] if base else []) + list(paths):
        loaded = read_yaml(path, "config file")
        if loaded is not None and not isinstance(loaded, dict):
            raise HelixInputError(
                path, None, f"a config is a mapping of sections, not a {type(loaded).__name__}"
            )
        data = merge_configs(data, loaded or {})
        sources.append(str(path))
    return validate_config(data, " + ".join(sources)), sources


def check_workflow_inputs(cfg, source: str = "config") -> list[str]:
    """Raise a one-line HelixInputError for the first thing the workflow would fail on; else
    return notes on what could not be checked yet (files of an artifact still to be cloned)."""
    from helix.clusters.build import build_cluster
    from helix.models import load_hf_config

    art = cfg.artifact_source()
    notes: list[str] = []
    clone_missing = art.cloned and not (Path(art.root) / "COMMIT").is_file()
    if not art.cloned and not Path(art.root).is_dir():
        raise HelixInputError(
            source,
            "artifact.path",
            "artifact folder not found (HELIX_ARTIFACT_DIR or artifact.path)",
            art.root,
        )

    def deferred(path: str) -> bool:
        if path.startswith("artifact:") and clone_missing:
            notes.append(f"{path}: checked once rule fetch_artifact has cloned {cfg.artifact.repo}")
            return True
        return False

    for name, entry in cfg.models.items():
        if deferred(entry.config_json):
            continue
        path = art.path(entry.config_json)
        if not path.is_file():
            raise HelixInputError(source, f"models.{name}.config_json", "file not found", str(path))
        load_hf_config(path, name)

    gpus = {k: v for k, v in cfg.gpus.items()}
    built: dict[str, Any] = {}

    def build(name: str, chain: tuple[str, ...] = ()):
        if name in built:
            return built[name]
        if name in chain:
            raise HelixInputError(
                source,
                f"clusters.{name}.parent",
                "derived clusters form a cycle",
                " -> ".join((*chain, name)),
            )
        spec = cfg.clusters[name]
        parent_name = getattr(spec, "parent", None)
        parent = build(parent_name, (*chain, name)) if parent_name else None
        if parent_name and parent is None:
            built[name] = None
            return None
        if spec.generator == "file":
            if deferred(spec.path):
                built[name] = None
                return None
            if not art.path(spec.path).is_file():
                raise HelixInputError(
                    source, f"clusters.{name}.path", "file not found", str(art.path(spec.path))
                )
        try:
            cluster = build_cluster(name, spec, gpus, parent, artifact_dir=art.root)
        except HelixInputError as exc:  # name the config too (a file cluster's error names its file)
            raise HelixInputError(source, None, exc.one_line()) from None
        cluster.check_routable(f"{source}: clusters.{name}")
        built[name] = cluster
        return cluster

    for name in cfg.clusters:
        build(name)

    for ename, exp in cfg.experiments.items():
        for i, run in enumerate(exp.prototypes):
            layout = getattr(run, "layout", None)
            if layout and not Path(layout).is_file():
                raise HelixInputError(
                    source, f"experiments.{ename}.prototypes[{i}].layout", "file not found", layout
                )
    return notes
