"""Input and params functions for rules/clusters.smk, built from the validated config.

They live here (not in the .smk) so the rule file holds only rules, as ``snakemake --lint`` asks,
and so they can be unit-tested. They take wildcards-like objects and import nothing of Snakemake.
"""

from __future__ import annotations

from typing import Any, Callable

from helix.artifact.source import ArtifactSource
from helix.clusters.build import cluster_gpu_types
from helix.config.schema import NAME_PATTERN  # noqa: F401  (for rules/clusters.smk)


def gpus_param(config: Any) -> Callable[[Any], dict]:
    """params function: the GPU catalogue entries the cluster uses (all of them for a file cluster).

    Only the types a cluster uses travel with the rule, and without their datasheet fields, so
    editing an unrelated GPU type, or a GPU's FLOP/s, does not rebuild it.
    """
    specs = {k: v.model_dump(mode="json") for k, v in config.clusters.items()}
    catalogue = {k: v.machine_fields() for k, v in config.gpus.items()}

    def gpus(wildcards) -> dict:
        used = cluster_gpu_types(wildcards.cluster, specs)
        return dict(catalogue) if used is None else {g: catalogue[g] for g in used}

    return gpus


def parent_input(config: Any, source: str) -> Callable[[Any], list[str]]:
    """input function: a derived cluster (sub-cluster, GPU replacement) reads its parent's YAML.

    The rule's first input: it takes any name (NAME_PATTERN), and a cluster the config lacks is one
    line here (Config.check_names), not Snakemake's "no rule to produce".
    """

    def parent(wildcards) -> list[str]:
        config.check_names(source, f"results/clusters/{wildcards.cluster}.yaml", wildcards.cluster)
        name = getattr(config.clusters[wildcards.cluster], "parent", None)
        return [f"results/clusters/{name}.yaml"] if name else []

    return parent


def file_input(config: Any, artifact: ArtifactSource) -> Callable[[Any], list[str]]:
    """input function: a ``generator: file`` cluster depends on its file (an ``artifact:`` file
    inside a cloned artifact: on the clone's marker, ``ArtifactSource.file_input``)."""

    def source(wildcards) -> list[str]:
        spec = config.clusters[wildcards.cluster]
        return artifact.file_input(spec.path) if spec.generator == "file" else []

    return source
