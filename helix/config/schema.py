"""The root config model. Sub-models live with the code that uses them and are composed here.

Pydantic validates config.yaml at Snakefile start-up; errors are reported as one line naming the
file, the field path and the value (see ``load_config``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from helix.clusters.spec import ClusterSpec
from helix.errors import HelixInputError
from helix.placement.settings import PlacementPreset
from helix.profiles.gpu_specs import DATASHEET_FIELDS
from helix.prototype.settings import ProtoRunSpec
from helix.sim.settings import SimRunSpec

ARTIFACT_REPO = "https://github.com/Thesys-lab/Helix-ASPLOS25"
ARTIFACT_COMMIT = "148b733080c0c5d3ddca0fe3c985b2e52a7f7b35"
# Wildcard constraint of cluster and model in the rules that check them (Config.check_names) in
# their first input function: any name, so an unknown one is that one line, not "no rule to produce".
NAME_PATTERN = "[^/]+"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArtifactSpec(_Strict):
    """Where the authors' public artifact lives; HELIX_ARTIFACT_DIR overrides ``path``."""

    path: str | None = None
    repo: str = ARTIFACT_REPO
    commit: str = ARTIFACT_COMMIT


class ModelEntry(_Strict):
    """A model by its HF config.json; ``artifact:`` paths are relative to the artifact root."""

    config_json: str
    param_bytes_per_layer: float | None = Field(None, gt=0)
    description: str = ""


class GpuType(_Strict):
    """A machine type: the GPUs in one box, its memory and network, and one GPU's datasheet.

    The machine fields (num_gpus, vram_bytes, NICs, disk) shape the cluster and the simulation. The
    datasheet fields describe ONE GPU of the box and let the analytic model predict a profile and
    derive engine limits for a type nobody measured; unset, they default to the built-in table
    (helix/profiles/gpu_specs.py: A100, V100, L4, T4, H100, H200, L40S and boxes <type>x<n>). A
    type used by a cluster that is neither in the table, nor given peak_flops and mem_bandwidth,
    nor measured is an error at start-up.
    """

    num_gpus: int = Field(1, ge=1, description="GPUs in one machine (tensor parallel over all of them)")
    vram_bytes: float = Field(gt=0, description="total GPU memory of the machine, bytes")
    nic_in: float = Field(10e9, gt=0, description="inbound NIC, bytes/s")
    nic_out: float = Field(10e9, gt=0, description="outbound NIC, bytes/s")
    disk: float = Field(1e9, gt=0, description="disk read speed, bytes/s (model loading time)")
    description: str = ""
    peak_flops: float | None = Field(
        None, gt=0, description="dense fp16/bf16 tensor FLOP/s of one GPU; default: the built-in table"
    )
    mem_bandwidth: float | None = Field(
        None, gt=0, description="memory bandwidth of one GPU, bytes/s; default: the built-in table"
    )
    interconnect_bandwidth: float | None = Field(
        None,
        ge=0,
        description="bytes/s per direction between the GPUs of one machine; default: table, else 0",
    )
    nvlink: bool | None = Field(
        None, description="GPUs of a machine talk over NVLink (else PCIe); default: table, else false"
    )
    tdp_w: float | None = Field(
        None,
        gt=0,
        description="board power of one GPU, W (<= 150 W: low-power compute efficiency); "
        "default: table, else 300",
    )

    def machine_fields(self) -> dict:
        """The entry without its datasheet: what a cluster file and the cluster rule depend on."""
        return self.model_dump(mode="json", exclude=set(DATASHEET_FIELDS))


class SimulationDefaults(_Strict):
    """Workload of a ``results/sims/...`` path that no experiment lists, per mode (WorkloadSpec fields).

    Offline runs need nothing (the default workload); an online run needs ``online.rate_tps``,
    and an offline run with a scheduler other than helix ``offline.n_init``.
    """

    offline: dict[str, Any] = Field({}, description="WorkloadSpec fields of offline runs, e.g. duration_s")
    online: dict[str, Any] = Field({}, description="WorkloadSpec fields of online runs, e.g. rate_tps")

    @model_validator(mode="after")
    def _check(self) -> "SimulationDefaults":
        from helix.sim.settings import WorkloadSpec

        for mode in ("offline", "online"):
            fields = dict(getattr(self, mode))
            if "mode" in fields:
                raise ValueError(f"{mode}.mode: implied by the key, leave it out")
            probe = {"rate_tps": 1.0} if mode == "online" and fields.get("rate_tps") is None else {}
            try:
                WorkloadSpec.model_validate({"mode": mode, **fields, **probe})
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ValueError(f"{mode}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
        return self


class ExperimentSpec(_Strict):
    """A group of targets (figures, placements, simulations, prototypes) and their settings.

    Any results path with valid wildcards also builds without an experiment (with
    ``simulation_defaults``); an experiment names runs to build together and overrides settings.
    """

    section: str = Field("", description="paper section the experiment reproduces, if any")
    description: str = ""
    figures: list[str] = []
    clusters: list[str] = []
    models: list[str] = []
    placements: list[str] = Field([], description="placement methods this experiment needs")
    simulations: list[SimRunSpec] = []
    prototypes: list[ProtoRunSpec] = Field([], description="prototype runs (results/proto/...)")


class Config(_Strict):
    artifact: ArtifactSpec = ArtifactSpec()
    seed: int = 0
    models: dict[str, ModelEntry]
    gpus: dict[str, GpuType]
    clusters: dict[str, ClusterSpec]
    placement_presets: dict[str, PlacementPreset] = {"default": PlacementPreset()}
    # method -> preset name, with per (cluster, model) overrides "cluster/model/method"
    placement: dict[str, str] = {}
    experiments: dict[str, ExperimentSpec] = {}
    simulation_defaults: SimulationDefaults = SimulationDefaults()
    extra: dict[str, Any] = {}

    @model_validator(mode="after")
    def _cross_check(self) -> "Config":
        for cname, spec in self.clusters.items():
            for parent in [getattr(spec, "parent", None)]:
                if parent is not None and parent not in self.clusters:
                    raise ValueError(f"clusters.{cname}.parent: unknown cluster {parent!r}")
            gpus: list[str] = []
            if hasattr(spec, "types"):
                gpus = list(spec.types)
            elif hasattr(spec, "regions"):
                gpus = [g for region in spec.regions for g in region]
            elif hasattr(spec, "replace"):
                gpus = list(spec.replace.values())
            for g in gpus:
                if g not in self.gpus:
                    raise ValueError(f"clusters.{cname}: unknown GPU type {g!r}")
        for pname, preset in self.placement.items():
            if preset not in self.placement_presets:
                raise ValueError(f"placement.{pname}: unknown preset {preset!r}")
        for ename, exp in self.experiments.items():
            for family, runs in (("simulations", exp.simulations), ("prototypes", exp.prototypes)):
                for i, run in enumerate(runs):
                    for field, names in (("model", self.models), ("cluster", self.clusters)):
                        if getattr(run, field) not in names:
                            raise ValueError(
                                f"experiments.{ename}.{family}[{i}].{field}: unknown {field} "
                                f"{getattr(run, field)!r}"
                            )
            for i, run in enumerate(exp.prototypes):
                for part in run.parts or {}:
                    if part not in self.clusters:
                        raise ValueError(
                            f"experiments.{ename}.prototypes[{i}].parts: unknown cluster {part!r}"
                        )
            for c in exp.clusters:
                if c not in self.clusters:
                    raise ValueError(f"experiments.{ename}.clusters: unknown cluster {c!r}")
        return self

    # ---- helpers used by rules and scripts ------------------------------------------------
    def artifact_source(self):
        """The one artifact resolver (helix.artifact.source): env, then artifact.path, then the clone."""
        from helix.artifact.source import ArtifactSource

        return ArtifactSource.from_config(self)

    def artifact_dir(self) -> Path:
        return Path(self.artifact_source().root)

    def resolve_model_path(self, name: str) -> Path:
        return self.artifact_source().path(self.models[name].config_json)

    def check_names(
        self, source: str | None, where: str, cluster: str | None = None, model: str | None = None
    ) -> None:
        """One-line HelixInputError when a results path ``where`` names a cluster or model this
        config lacks: rules take any name in these wildcards (NAME_PATTERN) and call this from an
        input function, so an unknown one is this line with the known names, not "no rule"."""
        for field, value, known in (("cluster", cluster, self.clusters), ("model", model, self.models)):
            if value is not None and value not in known:
                raise HelixInputError(
                    source, f"{where}: {field}", f"unknown {field} (known: {', '.join(sorted(known))})", value
                )


def _format_validation_error(source: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    msg = err["msg"]
    if "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], dict):
        return f"{source}: {loc}: {msg} (got {err['input']!r})"
    return f"{source}: {loc}: {msg}"


def validate_config(data: dict, source: str = "config") -> Config:
    """Validate a config mapping (e.g. Snakemake's ``config``); raise HelixInputError in one line."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise HelixInputError(None, None, _format_validation_error(source, exc)) from None


def load_config(path: str | Path) -> Config:
    from helix.io import read_yaml

    data = read_yaml(path, "config file")
    if data is not None and not isinstance(data, dict):
        raise HelixInputError(path, None, f"a config is a mapping of sections, not a {type(data).__name__}")
    return validate_config(data or {}, str(path))
