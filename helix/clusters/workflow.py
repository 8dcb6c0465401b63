"""Input and params functions for rules/clusters.smk, built from the validated config.

They live here (not in the .smk) so the rule file holds only rules, as ``snakemake --lint`` asks,
and so they can be unit-tested. They take wildcards-like objects and import nothing of Snakemake.
"""

from __future__ import annotations

from typing import Any, Callable

from helix.clusters.build import ARTIFACT_PREFIX, cluster_gpu_types, resolve_path


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


def file_input(config: Any, clone_input: list[str]) -> Callable[[Any], list[str]]:
    """input function: a ``generator: file`` cluster depends on its file.

    ``clone_input`` is the workflow's artifact_input(): non-empty when the artifact is cloned on
    demand, in which case an ``artifact:`` file depends on the clone's COMMIT marker instead (the
    file itself is not an output of any rule).
    """
    artifact_dir = config.artifact_dir()

    def source(wildcards) -> list[str]:
        spec = config.clusters[wildcards.cluster]
        if spec.generator != "file":
            return []
        if spec.path.startswith(ARTIFACT_PREFIX) and clone_input:
            return list(clone_input)
        return [str(resolve_path(spec.path, artifact_dir))]

    return source
