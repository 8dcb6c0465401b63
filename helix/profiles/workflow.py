"""What the rules ask of the profiles phase, from the validated config (no Snakemake import, testable).

One ``ProfilePlan`` is built at start-up. It gives every rule only the profiles and GPU entries of
the cluster it works on (so an unused GPU type neither breaks nor reruns anything), decides where a
(model, GPU) profile comes from (artifact import, committed measurement, or prediction), and runs
the start-up checks that turn bad input into one line before any job runs:

* a model whose ``config.json`` lacks a field the cost model needs;
* a GPU type a cluster uses that has neither datasheet fields nor a measured profile;
* (when a placement is asked for) a cluster whose machines cannot hold the model's layers.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from helix.clusters.build import cluster_gpu_types, parse_spec
from helix.clusters.spec import FakeClusterSpec, PartitionedClusterSpec, ReplaceGpuSpec, SubClusterSpec
from helix.errors import HelixInputError
from helix.profiles.gpu_specs import REQUIRED_DATASHEET_FIELDS, machine_from_entry
from helix.profiles.paths import PROFILES_ROOT, profile_files
from helix.profiles.store import ARTIFACT_GPU_TYPES, ARTIFACT_MODEL_DIRS

MEASURED_ROOT = "profiles/measured"  # committed measurements: {gpu-lower}/{model}/
WHATIF_MODELS = ("llama70b",)  # the what-if experiment runs LLaMA-2 70B
MODES = ("offline", "online")


def cluster_gpu_counts(name: str, clusters) -> Counter | None:
    """Machines per GPU type of cluster ``name`` from the config alone (None: a file cluster)."""
    spec = parse_spec(name, clusters[name])
    if isinstance(spec, FakeClusterSpec):
        return Counter({g: int(n) for g, n in spec.types.items()})
    if isinstance(spec, PartitionedClusterSpec):
        return Counter(g for region in spec.regions for g in region)
    if isinstance(spec, SubClusterSpec):
        parent = cluster_gpu_counts(spec.parent, clusters)
        return None if parent is None else Counter({spec.gpu: parent.get(spec.gpu, 0)})
    if isinstance(spec, ReplaceGpuSpec):
        parent = cluster_gpu_counts(spec.parent, clusters)
        if parent is None:
            return None
        out: Counter = Counter()
        for g, n in parent.items():
            out[spec.replace.get(g, g)] += n
        return out
    return None


def config_cluster_gpus(cfg, cluster: str, specs: dict | None = None) -> list[str]:
    """GPU types of a configured cluster (every config type for a file cluster or an unknown name).

    ``specs``: the clusters' config entries as JSON (computed from ``cfg`` when not given).
    """
    if specs is None:
        specs = {k: v.model_dump(mode="json") for k, v in cfg.clusters.items()}
    if cluster not in specs:
        return list(cfg.gpus)
    used = cluster_gpu_types(cluster, specs)
    return list(cfg.gpus) if used is None else [g for g in used if g in cfg.gpus]


class ProfilePlan:
    def __init__(self, cfg, basedir: str | Path, artifact_inputs: list[str], source: str = "config"):
        self.cfg = cfg
        self.basedir = Path(basedir)
        self.artifact_inputs = list(artifact_inputs)
        self.source = source
        self._specs = {k: v.model_dump(mode="json") for k, v in cfg.clusters.items()}
        self.gpu_names = {g.lower(): g for g in cfg.gpus}
        self.artifact_models = [m for m in cfg.models if m in ARTIFACT_MODEL_DIRS]
        self.artifact_gpus = [g for g in cfg.gpus if g in ARTIFACT_GPU_TYPES]
        self.tiny_models = [m for m in cfg.models if m.startswith("tiny-")]
        # the what-if experiment: config GPU types the artifact never measured that can be profiled
        # (datasheet or committed measurement; an unused type without either breaks nothing), and the
        # clusters using them
        self.whatif_gpus = [
            g
            for g in cfg.gpus
            if g not in ARTIFACT_GPU_TYPES
            and (machine_from_entry(g, cfg.gpus[g]) is not None or self.has_measured(g))
        ]
        self.whatif_clusters = [c for c in cfg.clusters if set(self.cluster_gpus(c)) & set(self.whatif_gpus)]
        self.whatif_models = [m for m in WHATIF_MODELS if m in cfg.models]

    # ---- per cluster ---------------------------------------------------------------------------------
    def cluster_gpus(self, cluster: str) -> list[str]:
        """GPU types of a configured cluster (every config type for a file cluster or an unknown name)."""
        return config_cluster_gpus(self.cfg, cluster, self._specs)

    def gpu_entries(self, wildcards) -> dict:
        """params: the config entries (datasheet included) of the GPU types of ``wildcards.cluster``."""
        return {
            g: self.cfg.gpus[g].model_dump(mode="json", exclude_none=True)
            for g in self.cluster_gpus(wildcards.cluster)
        }

    def cluster_profiles(self, wildcards) -> list[str]:
        """input: ``wildcards.model``'s profile on every GPU type of ``wildcards.cluster``."""
        return profile_files(wildcards.model, self.cluster_gpus(wildcards.cluster))

    # ---- one profile -----------------------------------------------------------------------------------
    def config_json(self, wildcards) -> str:
        return str(self.cfg.resolve_model_path(wildcards.model))

    def model_input(self, wildcards) -> list[str]:
        """The model's config.json as an input; inside the artifact, the artifact's COMMIT stands for it."""
        if self.cfg.models[wildcards.model].config_json.startswith("artifact:"):
            return self.artifact_inputs
        return [self.config_json(wildcards)]

    def gpu_name(self, wildcards) -> str:
        """Config type name of a lower-case profile directory name (also the rule's gpu_model)."""
        return self.gpu_names.get(wildcards.gpu, wildcards.gpu)

    def gpu_entry(self, wildcards) -> dict:
        """params: the config entry of the profile's GPU type (datasheet fields included), nothing else."""
        entry = self.cfg.gpus.get(self.gpu_name(wildcards))
        return entry.model_dump(mode="json", exclude_none=True) if entry is not None else {}

    def param_bytes_per_layer(self, wildcards) -> float | None:
        return self.cfg.models[wildcards.model].param_bytes_per_layer

    def measured_dir(self, wildcards) -> Path | None:
        d = self.basedir / MEASURED_ROOT / wildcards.gpu / wildcards.model
        return d if (d / "meta.json").is_file() else None

    def profile_inputs(self, wildcards) -> dict:
        """The committed measurement of (model, gpu) if any, else the fit and the model's config."""
        d = self.measured_dir(wildcards)
        if d is not None:
            return {"measured": [str(d / f) for f in ("meta.json", "prompt.csv", "decode.csv")]}
        return {"fit": "results/profiles/analytic_fit.json", "model": self.model_input(wildcards)}

    def has_measured(self, gpu: str) -> bool:
        """A measured profile of GPU type ``gpu`` for some model: the artifact's or a committed one."""
        if gpu in ARTIFACT_GPU_TYPES:
            return True
        return any(
            (d / "meta.json").is_file() for d in (self.basedir / MEASURED_ROOT / gpu.lower()).glob("*")
        )

    # ---- start-up checks -------------------------------------------------------------------------------
    def check(self) -> None:
        """One-line HelixInputError for a model config.json or a used GPU type that cannot be profiled."""
        for name, entry in self.cfg.models.items():
            path = self.cfg.resolve_model_path(name)
            if path.is_file():
                self.model_spec(name)
        used = {g for c in self.cfg.clusters for g in self.cluster_gpus(c)}
        for gpu in sorted(used):
            if machine_from_entry(gpu, self.cfg.gpus[gpu]) is None and not self.has_measured(gpu):
                missing = [k for k in REQUIRED_DATASHEET_FIELDS if getattr(self.cfg.gpus[gpu], k) is None]
                users = [c for c in self.cfg.clusters if gpu in self.cluster_gpus(c)]
                raise HelixInputError(
                    self.source,
                    f"gpus.{gpu}.{missing[0]}",
                    f"missing: {gpu} (used by {', '.join(users)}) has no measured profile, "
                    f"so its profiles are predicted and need the datasheet fields "
                    f"{', '.join(REQUIRED_DATASHEET_FIELDS)}",
                    None,
                )

    def model_spec(self, model: str):
        from helix.models import load_hf_config

        return load_hf_config(
            self.cfg.resolve_model_path(model),
            model,
            param_bytes_per_layer_override=self.cfg.models[model].param_bytes_per_layer,
        )

    def check_holds(self, cluster: str, model: str) -> None:
        """One-line HelixInputError when the cluster's machines cannot hold every layer of the model.

        Needs the model's config.json (skipped while an artifact model is not yet cloned) and a
        cluster known from the config (skipped for file clusters).
        """
        if cluster not in self._specs or model not in self.cfg.models:
            return
        counts = cluster_gpu_counts(cluster, self._specs)
        if counts is None or not self.cfg.resolve_model_path(model).is_file():
            return
        from helix.profiles.entry import ModelProfiles

        spec = self.model_spec(model)
        mp = ModelProfiles(
            spec, {g: self.cfg.gpus[g] for g in counts if g in self.cfg.gpus}, _NoStore(), source=self.source
        )
        total = 0
        for g, n in counts.items():
            try:
                total += n * mp.limits(g).K
            except HelixInputError:
                continue  # a GPU type that holds no layer of this model adds nothing
        if total < spec.num_layers:
            raise HelixInputError(
                self.source,
                f"clusters.{cluster}",
                f"cannot hold {model}: its machines {dict(sorted(counts.items()))} hold at most {total} of "
                f"{spec.num_layers} layers",
                cluster,
            )

    # ---- targets of the what-if experiment -------------------------------------------------------------
    def whatif_profile_targets(self) -> list[str]:
        return [f for m in self.whatif_models for f in profile_files(m, self.whatif_gpus)]

    def whatif_cluster_targets(self) -> list[str]:
        return [f"results/clusters/{c}.yaml" for c in self.whatif_clusters]

    def whatif_placement_targets(self) -> list[str]:
        return [
            f"results/placements/{c}/{m}/helix/layout.yaml"
            for c in self.whatif_clusters
            for m in self.whatif_models
        ]

    def whatif_sim_targets(self) -> list[str]:
        return [
            f"results/sims/{c}/{m}/helix/helix/{mode}/metrics.json"
            for c in self.whatif_clusters
            for m in self.whatif_models
            for mode in MODES
        ]


class _NoStore:
    """Limits need no profile when the machine has a datasheet or measured limits (check_holds)."""

    def get(self, model, gpu):
        raise HelixInputError(PROFILES_ROOT, None, "no profile loaded at planning time", f"{model}/{gpu}")

    def has(self, model, gpu) -> bool:
        return False
