"""The command line's one vocabulary, shared by the subcommands (not a subcommand itself).

A cluster and a model are named as in the config (``--config``, default config/config.yaml); a
file path is accepted where the user gives one (``--cluster some/cluster.yaml``,
``--model-config some/config.json``). Profiles are read from the project's ``resources/profiles``
(what the workflow builds), with an error that says which snakemake command makes a missing one;
``--profiles artifact`` reads the authors' tables directly.
"""

from __future__ import annotations

from pathlib import Path

from helix.errors import HelixInputError

DEFAULT_CONFIG = "config/config.yaml"
ARTIFACT_PROFILES = "artifact"


def add_config(p) -> None:
    p.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="config YAML naming clusters, models and GPUs (default: %(default)s)",
    )


def add_profiles(p) -> None:
    p.add_argument(
        "--profiles",
        default=None,
        help="profile root (default: resources/profiles, what the workflow builds); "
        "'artifact': the authors' tables",
    )


def load(args):
    from helix.config import load_config

    return load_config(args.config)


def resolve_cluster(cfg, name_or_path: str, config_path: str):
    """(Cluster, name): a config cluster by name (results/clusters/<name>.yaml, or built now), or a file.

    A built cluster goes through its YAML document and back, exactly as the workflow's rule output
    does, so a placement from the command line sees the same cluster as the workflow's.
    """
    import tempfile

    from helix.cluster import Cluster
    from helix.clusters.build import cluster_document, load_cluster_file

    path = Path(name_or_path)
    if name_or_path not in cfg.clusters:
        if path.suffix in (".yaml", ".yml", ".ini") or path.is_file():
            return load_cluster_file(path, path.stem), path.stem
        raise HelixInputError(
            config_path,
            "clusters",
            f"unknown cluster (known: {', '.join(sorted(cfg.clusters))}; or give a .yaml/.ini file)",
            name_or_path,
        )
    built = Path(f"results/clusters/{name_or_path}.yaml")
    if built.is_file():
        return Cluster.load(built), name_or_path
    from helix.commands.cluster import _build
    from helix.io import write_yaml

    cluster = _build(cfg, name_or_path, dict(cfg.gpus), config_path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name_or_path}.yaml"
        write_yaml(out, cluster_document(cluster, cfg.gpus))
        return Cluster.load(out), name_or_path


def resolve_model(
    cfg,
    name: str,
    config_path: str,
    model_config: str | None = None,
    param_bytes_per_layer: float | None = None,
):
    """A ModelSpec: config model ``name``, or any name with ``model_config`` (an HF config.json path)."""
    from helix.models import load_hf_config

    if model_config:
        return load_hf_config(model_config, name, param_bytes_per_layer_override=param_bytes_per_layer)
    if name not in cfg.models:
        raise HelixInputError(
            config_path,
            "models",
            f"unknown model (known: {', '.join(sorted(cfg.models))}; or give --model-config)",
            name,
        )
    pbl = (
        param_bytes_per_layer if param_bytes_per_layer is not None else cfg.models[name].param_bytes_per_layer
    )
    return load_hf_config(cfg.resolve_model_path(name), name, param_bytes_per_layer_override=pbl)


def gpu_entries(cfg, gpus) -> dict:
    """The config entries of ``gpus`` as the workflow passes them to its rules."""
    return {g: cfg.gpus[g].model_dump(mode="json", exclude_none=True) for g in gpus if g in cfg.gpus}


def profile_store(cfg, root: str | None, model: str, gpus, config_path: str):
    """The profile store, after checking it has ``model`` on every type of ``gpus`` (one-line error)."""
    from helix.profiles.paths import PROFILES_ROOT, profile_files
    from helix.profiles.store import ProfileStore

    if root == ARTIFACT_PROFILES:
        return ProfileStore.from_artifact(cfg.artifact_dir())
    root = root or PROFILES_ROOT
    missing = [g for g in gpus if not (Path(root) / model / g.lower() / "meta.json").is_file()]
    if missing:
        files = " ".join(f for f in profile_files(model, missing, root) if f.endswith("meta.json"))
        raise HelixInputError(
            root,
            f"{model}/{missing[0].lower()}",
            f"no profile of {model} on {', '.join(missing)}; make it with `snakemake --cores 2 "
            f"--configfile {config_path} {files}` (or pass --profiles artifact for the paper's pairs)",
        )
    return ProfileStore(root)


def example(text: str) -> str:
    """The --help epilog of a subcommand."""
    return "example:\n  " + "\n  ".join(text.strip().splitlines())
