"""The one entry point of the profiles package: everything placement and simulation need about a model.

``ModelProfiles`` answers, for one model (its ``ModelSpec``, from the config's ``config.json``) on
the GPU types of one cluster (the config's ``gpus`` entries): the per-layer time profile, the
engine limits (K, R, Dm(k), B(k)) and the typical-throughput seeds of each type, and where each
came from. Data flows down once: callers build it from the config and pass it on; nothing below
looks a model up by name.

Sources, in order:
* profile: the store (``resources/profiles/<model>/<gpu>/``: imported from the artifact,
  measured, or predicted by the analytic model; the rules decide which, see rules/profiles.smk);
* limits and seeds: the paper's measured tables (``helix/data/engine_limits/<model>.yaml``) where
  they have the pair, else derived from the model's shapes, its per-layer parameter bytes and the
  machine's memory and datasheet (``helix.profiles.derived_limits``).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from helix.errors import HelixInputError
from helix.models import ModelSpec
from helix.profiles import limits as measured
from helix.profiles.derived_limits import derived_limits, derived_seeds
from helix.profiles.gpu_specs import GpuSpec, machine_from_entry, machine_spec
from helix.profiles.limits import EngineLimits, TypicalSeeds
from helix.profiles.store import LayerProfile, ProfileStore


def gpu_machine_spec(name: str, entry=None) -> GpuSpec | None:
    """The machine of GPU type ``name``: config ``entry`` over the built-in table (None: no datasheet)."""
    if entry is None:
        try:
            return machine_spec(name)
        except HelixInputError:
            return None
    return machine_from_entry(name, entry)


def _vram(entry) -> float | None:
    if entry is None:
        return None
    return entry.get("vram_bytes") if isinstance(entry, dict) else getattr(entry, "vram_bytes", None)


def _num_gpus(entry) -> int:
    if entry is None:
        return 1
    return int((entry.get("num_gpus") if isinstance(entry, dict) else getattr(entry, "num_gpus", 1)) or 1)


class ModelProfiles:
    """Profiles, engine limits and seeds of one model on a set of GPU types (module doc)."""

    def __init__(
        self, spec: ModelSpec, gpus: Mapping | None, store: ProfileStore, *, source: str = ""
    ) -> None:
        self.spec = spec
        self.model = spec.name
        self.num_layers = spec.num_layers
        self.gpus = dict(gpus or {})
        self.store = store
        self.source = source or "config gpus"
        self._limits: dict[str, EngineLimits] = {}

    # ---- per GPU type ----------------------------------------------------------------------------------
    def machine(self, gpu: str) -> GpuSpec | None:
        return gpu_machine_spec(gpu, self.gpus.get(gpu))

    def profile(self, gpu: str) -> LayerProfile:
        return self.store.get(self.model, gpu)

    def has_measured_limits(self, gpu: str) -> bool:
        """Whether the paper measured the limits of this pair (else they are derived)."""
        return measured.has_measured(self.model, gpu)

    def limits(self, gpu: str) -> EngineLimits:
        if gpu not in self._limits:
            self._limits[gpu] = self._load_limits(gpu)
        return self._limits[gpu]

    def _load_limits(self, gpu: str) -> EngineLimits:
        if self.has_measured_limits(gpu):
            return measured.engine_limits(self.model, gpu)
        m = self.machine(gpu)
        if m is None:
            vram = _vram(self.gpus.get(gpu))
            if vram is None:
                raise HelixInputError(
                    self.source,
                    f"gpus.{gpu}",
                    f"no engine limits for {self.model}: unknown GPU type (no config entry, "
                    "not in the built-in datasheet table)",
                    gpu,
                )
            n = _num_gpus(self.gpus.get(gpu))
            m = GpuSpec(gpu, 0.0, 0.0, float(vram), num_gpus=n, source=f"config gpus.{gpu} (memory only)")
        return derived_limits(self.spec, m, source=self.source)

    def seeds(self, gpus: Iterable[str]) -> TypicalSeeds:
        """Seed tables of the typical-throughput estimate for ``gpus``: the paper's, else derived."""
        paper = measured.typical_seeds(self.model) if measured.known_model(self.model) else None
        a, b, perf = {}, {}, {}
        for gpu in gpus:
            if paper is not None and gpu in paper.layers_a:
                a[gpu], b[gpu], perf[gpu] = (
                    paper.layers_a[gpu],
                    paper.layers_b[gpu],
                    paper.performance_seed[gpu],
                )
                continue
            m = self.machine(gpu) or GpuSpec(gpu, 0.0, 0.0, 0.0)
            decode_100 = None if m.peak_flops > 0 else self.profile(gpu).decode_time(100)
            s = derived_seeds(self.spec, m, self.limits(gpu), decode_100=decode_100)
            a[gpu], b[gpu], perf[gpu] = s.layers_a, s.layers_b, s.performance_seed
        return TypicalSeeds(self.model, self.num_layers, a, b, perf)

    def provenance(self, gpus: Iterable[str]) -> dict:
        """Per GPU type: where its profile and its limits came from (for meta.json files)."""
        out = {}
        for gpu in sorted(set(gpus)):
            meta = dict(self.profile(gpu).meta) if self.store.has(self.model, gpu) else {}
            prof = {"source": meta.get("source", "missing")}
            if meta.get("source") == "predicted":
                fit = meta.get("fit") or {}
                prof["fit_trained_on"] = fit.get("trained_on")
                prof["fit_params"] = fit.get("params")
                prof["datasheet"] = (meta.get("gpu_spec") or {}).get("source")
            elif meta.get("source") == "artifact":
                prof["artifact_files"] = meta.get("artifact_files")
            elif meta.get("source") == "measured":
                prof["where"] = meta.get("copied_from") or meta.get("gpu_name") or meta.get("device")
            if self.has_measured_limits(gpu):
                lim = {"source": "measured", "file": measured.data_file(self.model)}
            else:
                m = self.machine(gpu)
                lim = {"source": "derived", "datasheet": m.source if m else None}
            out[gpu] = {"profile": prof, "limits": lim}
        return out


def as_model_profiles(spec: ModelSpec, profiles) -> ModelProfiles:
    """``profiles`` if it is one already.

    Else a ``ProfileStore`` seen through the built-in datasheet table.
    """
    if isinstance(profiles, ModelProfiles):
        return profiles
    return ModelProfiles(spec, None, profiles)


def model_profiles(
    spec: ModelSpec, gpus: Mapping | None, store: ProfileStore, *, source: str = ""
) -> ModelProfiles:
    """The entry point (module doc).

    ``spec`` on the GPU types of ``gpus`` (config entries), profiles in ``store``.
    """
    return ModelProfiles(spec, gpus, store, source=source)


def paper_profiles(model: str, store: ProfileStore) -> ModelProfiles:
    """One of the artifact's models (``llama70b``, ``llama30b``) by its shapes, GPUs from the built-in table.

    For tests, benchmarks and artifact checks that run without a config.
    """
    from helix.profiles.fit import PAPER_MODELS

    if model not in PAPER_MODELS:
        raise HelixInputError(
            None, "model", f"not one of the artifact's models {sorted(PAPER_MODELS)}", model
        )
    return ModelProfiles(PAPER_MODELS[model], None, store)
