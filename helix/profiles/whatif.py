"""Which profiles, clusters and runs the what-if rules need (rules/profiles_whatif.smk).

Kept out of the rule file (Snakemake's linter wants no functions there) and free of Snakemake and
torch: a ``WhatifPlan`` is built once from the validated config and hands out input functions and
target lists as bound methods.
"""

from __future__ import annotations

from pathlib import Path

from helix.profiles.paths import profile_files
from helix.profiles.store import ARTIFACT_GPU_TYPES

MEASURED_ROOT = "profiles/measured"  # committed measurements: {gpu-lower}/{model}/
WHATIF_MODELS = ("llama70b",)  # what-if clusters run LLaMA-2 70B: one MILP over the whole cluster
MODES = ("offline", "online")


def cluster_gpu_types(spec) -> set[str]:
    """GPU types a cluster entry names (types, regions, replacements, sub-cluster type)."""
    found = set(getattr(spec, "types", None) or {})
    found |= {g for region in getattr(spec, "regions", None) or [] for g in region}
    found |= set((getattr(spec, "replace", None) or {}).values())
    if getattr(spec, "gpu", None):
        found.add(spec.gpu)
    return found


class WhatifPlan:
    def __init__(self, cfg, basedir: str | Path, artifact_inputs: list[str]):
        self.cfg = cfg
        self.basedir = Path(basedir)
        self.artifact_inputs = list(artifact_inputs)
        # Config GPU types without an artifact profile: measured when committed, else predicted.
        self.gpus = [g for g in cfg.gpus if g not in ARTIFACT_GPU_TYPES]
        self.gpu_names = {g.lower(): g for g in cfg.gpus}
        self.whatif_dirs = [g.lower() for g in self.gpus]
        self.clusters = [c for c, s in cfg.clusters.items() if cluster_gpu_types(s) & set(self.gpus)]
        self.models = [m for m in WHATIF_MODELS if m in cfg.models]
        self.tiny_models = [m for m in cfg.models if m.startswith("tiny-")]

    # ---- input functions and params (wildcards -> value) ------------------------------------------
    def config_json(self, wildcards) -> str:
        return str(self.cfg.resolve_model_path(wildcards.model))

    def model_input(self, wildcards) -> list[str]:
        """The model's config.json as an input; inside the artifact, the artifact's COMMIT stands for it."""
        if self.cfg.models[wildcards.model].config_json.startswith("artifact:"):
            return self.artifact_inputs
        return [self.config_json(wildcards)]

    def gpu_entry(self, wildcards) -> dict:
        """The config entry of the profile's GPU type (datasheet fields included), nothing else."""
        entry = self.cfg.gpus.get(self.gpu_name(wildcards))
        return entry.model_dump(mode="json", exclude_none=True) if entry is not None else {}

    def param_bytes_per_layer(self, wildcards) -> float | None:
        return self.cfg.models[wildcards.model].param_bytes_per_layer

    def gpu_name(self, wildcards) -> str:
        """Config type name of a lower-case profile directory name (also the rule's gpu_model)."""
        return self.gpu_names.get(wildcards.gpu, wildcards.gpu)

    def measured_dir(self, wildcards) -> Path | None:
        d = self.basedir / MEASURED_ROOT / wildcards.gpu / wildcards.model
        return d if (d / "meta.json").is_file() else None

    def profile_inputs(self, wildcards) -> dict:
        """The committed measurement of (model, gpu) if any, else the fit and the model's config."""
        d = self.measured_dir(wildcards)
        if d is not None:
            return {"measured": [str(d / f) for f in ("meta.json", "prompt.csv", "decode.csv")]}
        return {"fit": "results/profiles/analytic_fit.json", "model": self.model_input(wildcards)}

    # ---- targets -------------------------------------------------------------------------------------
    def profile_targets(self) -> list[str]:
        return [f for m in self.models for f in profile_files(m, self.gpus)]

    def cluster_targets(self) -> list[str]:
        return [f"results/clusters/{c}.yaml" for c in self.clusters]

    def placement_targets(self) -> list[str]:
        return [f"results/placements/{c}/{m}/helix/layout.yaml" for c in self.clusters for m in self.models]

    def sim_targets(self) -> list[str]:
        return [f"results/sims/{c}/{m}/helix/helix/{mode}/metrics.json"
                for c in self.clusters for m in self.models for mode in MODES]
