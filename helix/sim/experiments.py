"""The simulation table: every configured run and sub-cluster part, by result path.

``experiments.<group>.simulations`` in config.yaml lists :class:`SimRunSpec` entries. Runs split
into parts (separate pipelines, per-type helix) expand into one *part run* per sub-cluster under
cluster ``<cluster>-<part>`` plus the aggregate under the parent's own path (docs/design/README.md
"Names"). Rules look entries up by their result key ``cluster/model/method/scheduler/mode`` and get
the entry itself as ``params``, so editing one run reruns only that run.
"""

from __future__ import annotations

from helix.errors import HelixInputError
from helix.placement.names import reads_artifact_graph
from helix.sim.settings import SimRunSpec, WorkloadSpec

SIM_ROOT = "results/sims"
RUN_FILES = ("metrics.json", "requests.parquet", "congestion.csv", "iterations.parquet")


def run_key(cluster: str, model: str, method: str, scheduler: str, mode: str) -> str:
    return f"{cluster}/{model}/{method}/{scheduler}/{mode}"


def run_dir(key: str) -> str:
    return f"{SIM_ROOT}/{key}"


def _entry(
    spec: SimRunSpec, cluster: str, workload, parent: str | None = None, part: str | None = None
) -> dict:
    return {
        "cluster": cluster,
        "model": spec.model,
        "method": spec.method,
        "scheduler": spec.scheduler,
        "mode": spec.mode,
        "workload": workload.model_dump(mode="json") if workload is not None else None,
        "parent": parent,
        "part": part,
        "parts": None,
    }


def sim_table(cfg) -> dict[str, dict]:
    """Every run of every experiment (parts included), keyed by result key; conflicts are errors."""
    table: dict[str, dict] = {}
    groups: dict[str, list[str]] = {}

    def add(key: str, entry: dict, where: str) -> None:
        if key in table and table[key] != entry:
            raise HelixInputError(
                "config", where, "a simulation with the same result path is configured differently", key
            )
        table[key] = entry

    for gname, exp in cfg.experiments.items():
        keys = []
        for i, spec in enumerate(exp.simulations):
            where = f"experiments.{gname}.simulations[{i}]"
            key = run_key(spec.cluster, spec.model, spec.method, spec.scheduler, spec.mode)
            if spec.parts:
                part_keys = []
                for part, wl in spec.parts.items():
                    pc = f"{spec.cluster}-{part}"
                    pkey = run_key(pc, spec.model, spec.method, spec.scheduler, spec.mode)
                    add(pkey, _entry(spec, pc, wl, parent=spec.cluster, part=part), where)
                    part_keys.append(pkey)
                entry = _entry(spec, spec.cluster, None)
                entry["parts"] = part_keys
                add(key, entry, where)
            else:
                add(key, _entry(spec, spec.cluster, spec.workload), where)
            keys.append(key)
        groups[gname] = keys
    return table


def check_method(method: str, source: str, where: str) -> None:
    """One-line error for a placement method no rule can make (known: the registry's names)."""
    from helix.placement.base import get_method
    from helix.placement.names import layout_method

    try:
        get_method(layout_method(method))  # paper-<m>@graph: the layout of paper-<m>
    except HelixInputError as exc:
        raise HelixInputError(source, where, exc.message, method) from None


def default_entry(
    cfg, cluster: str, model: str, method: str, scheduler: str, mode: str, source: str = "config"
) -> dict:
    """The run of a results/sims path no experiment lists: ``simulation_defaults`` for its mode.

    Every wildcard is checked here, so a bad path is one line naming the config, the field and the
    value before any job runs.
    """
    key = run_key(cluster, model, method, scheduler, mode)
    where = f"results/sims/{key}"
    cfg.check_names(source, where, cluster, model)
    check_method(method, source, f"{where}: method")
    from helix.scheduling import scheduler_names

    if scheduler not in scheduler_names():
        raise HelixInputError(
            source,
            f"{where}: scheduler",
            f"unknown scheduler (known: {', '.join(scheduler_names())})",
            scheduler,
        )
    if mode not in ("offline", "online"):
        raise HelixInputError(source, f"{where}: mode", "must be offline or online", mode)
    fields = dict(getattr(cfg.simulation_defaults, mode))
    if mode == "online" and fields.get("rate_tps") is None:
        raise HelixInputError(
            source,
            "simulation_defaults.online.rate_tps",
            f"{where} is in no experiment, and an online run needs a token rate: set "
            "simulation_defaults.online.rate_tps or list the run in an experiment",
            None,
        )
    if mode == "offline" and scheduler != "helix" and fields.get("n_init") is None:
        raise HelixInputError(
            source,
            "simulation_defaults.offline.n_init",
            f"{where} is in no experiment, and an offline run with the {scheduler} scheduler "
            "needs an initial concurrency: set simulation_defaults.offline.n_init or list the "
            "run in an experiment",
            None,
        )
    spec = cfg.clusters[cluster]
    parent = part = None
    if reads_artifact_graph(method) and getattr(spec, "generator", None) == "subcluster":
        parent, part = spec.parent, spec.gpu.lower()
    workload = WorkloadSpec.model_validate({"mode": mode, **fields})
    return {
        "cluster": cluster,
        "model": model,
        "method": method,
        "scheduler": scheduler,
        "mode": mode,
        "workload": workload.model_dump(mode="json"),
        "parent": parent,
        "part": part,
        "parts": None,
    }


def sim_groups(cfg) -> dict[str, list[str]]:
    """Experiment group -> the result keys of its runs (aggregates, not their parts)."""
    out = {}
    for gname, exp in cfg.experiments.items():
        out[gname] = [run_key(s.cluster, s.model, s.method, s.scheduler, s.mode) for s in exp.simulations]
    return out


def metrics_targets(cfg, group: str | None = None) -> list[str]:
    groups = sim_groups(cfg)
    names = [group] if group else list(groups)
    return [f"{run_dir(k)}/metrics.json" for g in names for k in groups.get(g, [])]
