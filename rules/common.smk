"""Helpers shared by all phases: the validated config, wildcard constraints, input functions."""

from helix.artifact.source import CLONE_MARKER, ArtifactSource
from helix.config.schema import validate_config
from helix.errors import HelixInputError
from helix.scheduling import SCHEDULERS
from helix.profiles.workflow import ProfilePlan

CONFIG_SOURCE = ", ".join(str(f) for f in workflow.configfiles) or "config"


onstart:
    # Local runs need no job-rate limit, and Snakemake 9's (default 100/1s) costs a core: every
    # pass of its scheduler loop arms a new 1 s re-evaluation timer and every finished job adds one
    # more chain of them, so late in a full run the main process re-reads the params and inputs of
    # every ready job ~100 times a second (219 of 894 CPU s of all_figures, 29 November). Dropping
    # it changes when the scheduler looks again, not what runs. Remote executors keep it.
    _scheduler = getattr(workflow, "scheduler", None)
    if (
        workflow.local_exec
        and getattr(_scheduler, "job_rate_limiter", None) is not None
    ):
        _scheduler.job_rate_limiter = None


try:
    HCFG = validate_config(config, CONFIG_SOURCE)
except HelixInputError as exc:
    raise WorkflowError(exc.one_line()) from None


wildcard_constraints:
    cluster="|".join(sorted(HCFG.clusters)) or "NONE",
    model="|".join(sorted(HCFG.models)) or "NONE",
    scheduler=SCHEDULERS.pattern(),
    mode="offline|online",


# The one artifact resolver ($HELIX_ARTIFACT_DIR, else artifact.path, else the clone that rule
# fetch_artifact makes): a rule reading the artifact takes ARTIFACT.inputs() as input (the clone's
# marker, or nothing) and ARTIFACT.root as its `artifact` param.
ARTIFACT = ArtifactSource.from_config(HCFG)


# Profiles and GPU entries per cluster, and the start-up checks (helix/profiles/workflow.py).
PROFILES = ProfilePlan(HCFG, workflow.basedir, ARTIFACT.inputs(), CONFIG_SOURCE)
try:
    PROFILES.check()
except HelixInputError as exc:
    raise WorkflowError(exc.one_line()) from None


def cluster_spec(wildcards):
    """The config slice a cluster depends on (params, so editing one cluster reruns only it)."""
    return HCFG.clusters[wildcards.cluster].model_dump(mode="json")


def model_entry(wildcards):
    return HCFG.models[wildcards.model].model_dump(mode="json")


def all_clusters():
    return [f"results/clusters/{c}.yaml" for c in HCFG.clusters]


_TARGETS = []


def register_targets(files):
    """Phases add the files that the default target builds, keeping the Snakefile free of per-phase knowledge."""
    _TARGETS.extend(files)


def all_targets():
    return list(_TARGETS)
