"""The figure catalogue: what each figure and table of the paper plots, and from which files.

One place maps the paper's evaluation (docs/design/README.md, "experiment groups",
docs/design/simulator.md s7) to the project's result paths, so the Snakemake rules, the scripts and
the tests agree on inputs, and a figure's inputs are exactly the metric files it draws (changing
one experiment reruns only the figures that show it). A spec is plain JSON-able data: it travels to
the script as ``params``.

Naming decisions that other phases own are constants at the top; renaming upstream is a one-line
change here. Prototype bars use, in order: our prototype run (``results/proto/...``) if it exists,
the paper's own event log parsed by our parser (``helix parse-log``), or the value the paper
printed; the legend says which.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from helix.figures import data
from helix.figures.custom import custom_runs, run_files
from helix.figures.style import method_label
from helix.placement.names import is_paper, on_graph_path, paper_name
from helix.planning.workflow import COMPARISON_MODEL, COMPARISON_RATES, comparison_files

# ---- names owned by other phases ---------------------------------------------------------------
# Figures of the paper's runs plot the authors' layouts (``paper-<method>``, on the artifact's
# placement graph), as the section 6.3 fidelity rows do; make this the identity to plot the
# project's own placements instead.
shown_layout = paper_name
# The scheduler the paper ran with each placement method (docs/design/README.md, docs/design/prototype.md s4).
PAPER_SCHEDULER = {
    "helix": "helix",
    "swarm": "swarm",
    "separate": "random",
    "sp_plus": "random",
    "petals": "helix",
}
# Section 6.7 ran on an older ILP layout than 6.4/6.6 (docs/design/simulator.md trap 24).
SCHEDULING_LAYOUT = "paper-helix-sched"
# Ablations (6.8) of our own planner are placement methods ``helix-<variant>``: the helix planner
# under the preset the config's ``placement`` mapping gives the name (config.yaml: helix-pruned ->
# ablation_pruned, helix-noprune -> ablation_noprune, helix-nowarm -> ablation_nowarm).
# Fig. 11a: simulated throughput with and without cluster pruning, the authors' layouts and ours,
# every layout through one path: our own-layout path (``paper-<m>@graph``, helix.placement.names).
PRUNING_LAYOUTS = {
    "paper": {"pruned": on_graph_path("paper-helix"), "unpruned": on_graph_path("paper-helix-noprune")},
    "ours": {"pruned": "helix-pruned", "unpruned": "helix-noprune"},
}
GRAPH_PATH_LABEL = "every layout simulated through our layout path (helix.sim.graph)"
PRUNING_LABELS = {"pruned": "with pruning", "unpruned": "without pruning"}
# Fig. 11b: our planner on the pruned graph with and without the heuristic warm start.
WARMSTART_METHODS = {"warm": "helix-pruned", "cold": "helix-nowarm"}
# Table 8: every helix-family run writes the per-machine MILP's size with and without the paper's
# pruning (milp_size.json keys ``unpruned`` / ``pruned``); read from the pruned ablation run.
TABLE8_METHOD = "helix-pruned"
# Served figures: the estimator validation's table and summary (rule estimator_validation).
VALIDATION_TABLE = "results/placements/estimator_validation.csv"
VALIDATION_SUMMARY = "results/placements/estimator_validation.json"
# Fig. 12: the MILP solved to optimality.
OPTIMALITY_RUN = ("small10", "llama30b", "helix")
# Where the figures phase keeps the paper's prototype logs parsed by our parser.
PAPER_PROTO = "results/figures/data/paper-proto/{cluster}/{model}/{method}/{scheduler}/{mode}.json"
PARSER_MODULE = "helix.prototype.logparse"
PAPER_PROTO_END_S = 300.0  # the paper's runs last 5 minutes (docs/design/prototype.md s8)

MODEL_LABELS = {"llama30b": "LLaMA-1 30B", "llama70b": "LLaMA-2 70B"}
THROUGHPUT_LABEL = "Decode throughput (tokens/s)"
PHASE_LABELS = {"prompt": "Prompt latency (s)", "decode": "Decode latency per token (s)"}


def sim_path(cluster, model, method, scheduler, mode) -> str:
    return f"results/sims/{cluster}/{model}/{method}/{scheduler}/{mode}/metrics.json"


def proto_path(cluster, model, method, scheduler, mode) -> str:
    return f"results/proto/{cluster}/{model}/{method}/{scheduler}/{mode}/metrics.json"


def placement_file(cluster, model, method, name) -> str:
    return f"results/placements/{cluster}/{model}/{method}/{name}"


@dataclass
class Context:
    """What the catalogue may look at: files (a prototype bar's source) and the validated config
    (``cfg``: the runs of custom_runs, the model of served_throughput; None: neither)."""

    exists: Callable[[str], bool] = os.path.exists
    artifact_dir: Path | None = None
    parser_available: bool = field(
        default_factory=lambda: importlib.util.find_spec(PARSER_MODULE) is not None
    )
    cfg: object | None = None

    def paper_logs(self, row: dict | None) -> list[str] | None:
        """Absolute paths of the paper's logs for a prototype row, if every one is present."""
        if row is None or not row.get("logs") or self.artifact_dir is None or not self.parser_available:
            return None
        paths = [str(Path(self.artifact_dir) / "artifact_evaluation" / log) for log in row["logs"]]
        return paths if all(self.exists(p) for p in paths) else None


def _pct(printed: dict | None) -> dict | None:
    return None if printed is None else {f"p{int(k)}": float(v) for k, v in printed.items()}


def _label(method: str) -> str:
    return method_label(method)


# ---- items: one bar or box -------------------------------------------------------------------
def sim_item(
    cluster,
    model,
    method,
    mode,
    scheduler=None,
    metric="decode_throughput_tps",
    label=None,
    key=None,
    own=False,
):
    """One simulated bar; ``method`` is a base method shown on the authors' layout (shown_layout),
    a ``paper-<name>`` layout, or with ``own`` exactly the placement method named (our layouts)."""
    scheduler = scheduler or PAPER_SCHEDULER[method]
    row = data.paper_sim(cluster, model, method, scheduler, mode)
    paper = None
    if row is not None:
        paper = (
            row.get("decode_throughput_tps")
            if metric == "decode_throughput_tps"
            else _pct(row.get(f"{metric[:-10]}_p"))
        )
    run_method = method if own or is_paper(method) else shown_layout(method)
    return {
        "method": key or method,
        "label": label or _label(method),
        "source": "sim",
        "path": sim_path(cluster, model, run_method, scheduler, mode),
        "paper": paper,
        "run": [cluster, model, run_method, scheduler, mode],
    }


def proto_item(ctx: Context, cluster, model, method, mode, scheduler=None, metric="decode_throughput_tps"):
    """Our prototype run, else the paper's log parsed by our parser, else the printed value."""
    scheduler = scheduler or PAPER_SCHEDULER[method]
    row = data.paper_proto(cluster, model, method, scheduler, mode)
    is_thr = metric == "decode_throughput_tps"
    printed = None
    if row is not None:
        printed = row.get("decode_throughput_tps") if is_thr else _pct(row.get(f"{metric[:-10]}_p"))
    run_method = shown_layout(method)
    item = {
        "method": method,
        "label": _label(method),
        "paper": printed,
        "run": [cluster, model, run_method, scheduler, mode],
    }
    ours = proto_path(cluster, model, run_method, scheduler, mode)
    if ctx.exists(ours):
        return {**item, "source": "proto", "path": ours}
    logs = ctx.paper_logs(row)
    if logs:
        path = PAPER_PROTO.format(cluster=cluster, model=model, method=method, scheduler=scheduler, mode=mode)
        return {**item, "source": "paper-log", "path": path, "logs": logs, "warmup_s": row["warmup_s"]}
    if printed is not None:
        return {**item, "source": "paper-printed", "path": None, "value": printed}
    return {**item, "source": "missing", "path": None}


# ---- figure specs ------------------------------------------------------------------------------
FIG5_THROUGHPUT = {
    "a": ("llama30b", "offline"),
    "b": ("llama70b", "offline"),
    "c": ("llama30b", "online"),
    "d": ("llama70b", "online"),
}
FIG5_LATENCY = {
    "e": ("llama30b", "prompt"),
    "f": ("llama30b", "decode"),
    "g": ("llama70b", "prompt"),
    "h": ("llama70b", "decode"),
}
FIG7_THROUGHPUT = {"a": "llama30b", "b": "llama70b"}
FIG7_LATENCY = {
    "c": ("llama30b", "prompt"),
    "d": ("llama30b", "decode"),
    "e": ("llama70b", "prompt"),
    "f": ("llama70b", "decode"),
}
METHODS_63 = ("helix", "swarm", "separate")
METHODS_65 = ("helix", "swarm", "separate", "sp_plus")
METHODS_66 = ("helix", "swarm", "petals")
SCHEDULERS_67 = ("helix", "swarm", "random", "shortest_queue")


def _throughput(title, groups, **extra):
    return {"title": title, "ylabel": THROUGHPUT_LABEL, "groups": groups, **extra}


def _latency(title, phase, groups):
    return {"title": title, "metric": f"{phase}_latency_s", "ylabel": PHASE_LABELS[phase], "groups": groups}


def _drop_empty(groups):
    return [g for g in groups if any(i["source"] != "missing" for i in g["items"])]


def build_catalog(ctx: Context | None = None) -> dict[str, dict]:
    """Every figure and table, by name (``fig5a`` ... ``table8``, ``reproduction``)."""
    ctx = ctx or Context()
    specs: dict[str, dict] = {}
    # 6.3 single24: Fig. 5
    for panel, (model, mode) in FIG5_THROUGHPUT.items():
        specs[f"fig5{panel}"] = _throughput(
            f"single24, {MODEL_LABELS[model]}, {mode}",
            _drop_empty(
                [
                    {
                        "label": "Simulation",
                        "items": [sim_item("single24", model, m, mode) for m in METHODS_63],
                    },
                    {
                        "label": "Prototype",
                        "items": [proto_item(ctx, "single24", model, m, mode) for m in METHODS_63],
                    },
                ]
            ),
        )
    for panel, (model, phase) in FIG5_LATENCY.items():
        metric = f"{phase}_latency_s"
        specs[f"fig5{panel}"] = _latency(
            f"single24, {MODEL_LABELS[model]}, online",
            phase,
            _drop_empty(
                [
                    {
                        "label": "Simulation",
                        "items": [
                            sim_item("single24", model, m, "online", metric=metric) for m in METHODS_63
                        ],
                    },
                    {
                        "label": "Prototype",
                        "items": [
                            proto_item(ctx, "single24", model, m, "online", metric=metric) for m in METHODS_63
                        ],
                    },
                ]
            ),
        )
    # 6.4 geo24: Fig. 7 (simulation only)
    for panel, model in FIG7_THROUGHPUT.items():
        specs[f"fig7{panel}"] = _throughput(
            f"geo24, {MODEL_LABELS[model]} (simulation)",
            [
                {"label": mode, "items": [sim_item("geo24", model, m, mode) for m in METHODS_63]}
                for mode in ("offline", "online")
            ],
        )
    for panel, (model, phase) in FIG7_LATENCY.items():
        metric = f"{phase}_latency_s"
        specs[f"fig7{panel}"] = _latency(
            f"geo24, {MODEL_LABELS[model]}, online (simulation)",
            phase,
            [
                {
                    "label": "Simulation",
                    "items": [sim_item("geo24", model, m, "online", metric=metric) for m in METHODS_63],
                }
            ],
        )
    # 6.5 hetero42: Fig. 8
    specs["fig8a"] = _throughput(
        "hetero42, LLaMA-2 70B (simulation)",
        [
            {"label": mode, "items": [sim_item("hetero42", "llama70b", m, mode) for m in METHODS_65]}
            for mode in ("offline", "online")
        ],
    )
    for panel, phase in (("b", "prompt"), ("c", "decode")):
        metric = f"{phase}_latency_s"
        specs[f"fig8{panel}"] = _latency(
            "hetero42, LLaMA-2 70B, online (simulation)",
            phase,
            [
                {
                    "label": "Simulation",
                    "items": [
                        sim_item("hetero42", "llama70b", m, "online", metric=metric) for m in METHODS_65
                    ],
                }
            ],
        )
    # 6.6 placement deep dive: Fig. 9 (scheduler fixed to helix)
    specs["fig9a"] = _throughput(
        "Placement methods, LLaMA-2 70B, offline, Helix scheduler",
        _drop_empty(
            [
                {
                    "label": "Simulation\n(geo24)",
                    "items": [
                        sim_item("geo24", "llama70b", m, "offline", scheduler="helix") for m in METHODS_66
                    ],
                },
                {
                    "label": "Prototype\n(single24)",
                    "items": [
                        proto_item(ctx, "single24", "llama70b", m, "offline", scheduler="helix")
                        for m in METHODS_66
                    ],
                },
            ]
        ),
    )
    specs["fig9b"] = {
        "title": "Placements on geo24, LLaMA-2 70B",
        "panels": [
            {
                "method": m,
                "label": _label(m),
                "layout": placement_file("geo24", "llama70b", shown_layout(m), "layout.yaml"),
                "flow": placement_file("geo24", "llama70b", shown_layout(m), "flow.json"),
                "cluster_yaml": "results/clusters/geo24.yaml",
            }
            for m in METHODS_66
        ],
    }
    # 6.7 request scheduling: Fig. 10 (placement fixed to helix)
    sched_items = [
        {**sim_item("geo24", "llama70b", SCHEDULING_LAYOUT, "offline", scheduler=s, label=_label(s), key=s)}
        for s in SCHEDULERS_67
    ]
    proto_sched = [
        {
            **proto_item(ctx, "single24", "llama70b", "helix", "offline", scheduler=s),
            "method": s,
            "label": _label(s),
        }
        for s in SCHEDULERS_67
    ]
    specs["fig10a"] = _throughput(
        "Schedulers, LLaMA-2 70B, offline, Helix placement",
        _drop_empty(
            [
                {"label": "Simulation\n(geo24)", "items": sched_items},
                {"label": "Prototype\n(single24)", "items": proto_sched},
            ]
        ),
    )
    specs["fig10b"] = {
        "title": "Congestion per machine, geo24, LLaMA-2 70B, offline",
        "ylabel": "Mean queueing delay (s)",
        "metric": "mean_queue_delay_s",
        "series": [
            {"method": s, "label": _label(s), "path": str(Path(it["path"]).with_name("congestion.csv"))}
            for s, it in zip(SCHEDULERS_67, sched_items)
        ],
    }
    # 6.8 ablations: Fig. 11 and Table 8
    specs["fig11a"] = _throughput(
        "Cluster pruning: the paper's layouts and ours, LLaMA-2 70B, offline,\n"
        f"Helix scheduler; {GRAPH_PATH_LABEL}",
        [
            {
                "label": f"{cluster}\n{source}",
                "items": [
                    sim_item(
                        cluster,
                        "llama70b",
                        layout,
                        "offline",
                        scheduler="helix",
                        label=PRUNING_LABELS[variant],
                        key=variant,
                        own=True,
                    )
                    for variant, layout in layouts.items()
                ],
            }
            for cluster in ("geo24", "hetero42")
            for source, layouts in PRUNING_LAYOUTS.items()
        ],
    )
    specs["fig11b"] = {
        "title": "MILP with and without a heuristic warm start, LLaMA-2 70B",
        "panels": [
            {
                "title": cluster,
                "series": [
                    {
                        "key": variant,
                        "label": f"{'with' if variant == 'warm' else 'without'} heuristic warm start "
                        f"({method})",
                        "path": placement_file(cluster, "llama70b", method, "solver_trace.csv"),
                    }
                    for variant, method in WARMSTART_METHODS.items()
                ],
                "paper": data.paper_objective(cluster, "llama70b"),
            }
            for cluster in ("geo24", "hetero42")
        ],
    }
    cluster, model, method = OPTIMALITY_RUN
    specs["fig12"] = {
        "title": f"MILP solved to optimality, {cluster}, {MODEL_LABELS[model]}",
        "panels": [
            {
                "title": "",
                "series": [
                    {
                        "key": "helix",
                        "label": "Helix MILP",
                        "path": placement_file(cluster, model, method, "solver_trace.csv"),
                    }
                ],
                "paper": data.paper_objective(cluster, model),
            }
        ],
    }
    specs["table8"] = {
        "rows": [
            {
                "cluster": c,
                "model": "llama70b",
                "path": placement_file(c, "llama70b", TABLE8_METHOD, data.MILP_SIZE_FILE),
            }
            for c in ("geo24", "hetero42")
        ],
    }
    specs["reproduction"] = {}
    # beyond the paper (target ``served``): the served-throughput estimate and planner
    specs["served_validation"] = {"path": VALIDATION_TABLE, "summary": VALIDATION_SUMMARY}
    specs["served_throughput"] = served_throughput_spec(ctx.cfg)
    # experiments that draw no figure of their own
    runs = custom_runs(ctx.cfg) if ctx.cfg is not None else []
    specs["custom_runs"] = {"runs": runs, "files": run_files(runs)}
    if set(specs) != set(FIGURES):
        raise RuntimeError(
            f"figure specs {sorted(set(specs) ^ set(FIGURES))} have no record, or records no spec"
        )
    # each spec names its builder first (the record's), so the script needs nothing else
    specs = {name: {"kind": FIGURES[name].builder, **specs[name]} for name in FIGURES}
    specs["reproduction"].update(reproduction_spec(specs))
    return specs


def served_throughput_spec(cfg) -> dict:
    """The comparison's files; with a config also the model, and the GPU entries and profiles
    (resources/profiles, inputs under ``profiles``) of the compared clusters' GPU types, which the
    served estimate reads: a changed profile reruns the figure, an unrelated GPU entry does not."""
    spec: dict = {"files": comparison_files()}
    if cfg is not None and COMPARISON_MODEL in cfg.models:
        from helix.profiles.paths import profile_files
        from helix.profiles.workflow import config_cluster_gpus

        compared = [c for c in COMPARISON_RATES if c in cfg.clusters]
        gpus = list(dict.fromkeys(g for c in compared for g in config_cluster_gpus(cfg, c)))
        spec.update(
            model_key=COMPARISON_MODEL,
            model=cfg.models[COMPARISON_MODEL].model_dump(mode="json"),
            model_json=str(cfg.resolve_model_path(COMPARISON_MODEL)),
            gpus={g: cfg.gpus[g].model_dump(mode="json", exclude_none=True) for g in gpus},
            profiles=profile_files(COMPARISON_MODEL, gpus),
        )
    return spec


def reproduction_spec(specs: dict[str, dict]) -> dict:
    """Every printed paper value one of our figures shows, as (paper, file, key) rows."""
    rows = []
    for name, spec in specs.items():
        if spec["kind"] not in ("throughput", "latency"):
            continue
        for group in spec["groups"]:
            for item in group["items"]:
                if item.get("paper") is None or item["source"] in ("missing", "paper-printed"):
                    continue
                base = {
                    "figure": name,
                    "group": group["label"],
                    "source": item["source"],
                    "path": item["path"],
                }
                base.update(dict(zip(("cluster", "model", "method", "scheduler", "mode"), item["run"])))
                if spec["kind"] == "throughput":
                    rows.append({**base, "metric": "decode_throughput_tps", "paper": float(item["paper"])})
                else:
                    for stat, value in item["paper"].items():
                        rows.append({**base, "metric": f"{spec['metric']}.{stat}", "paper": float(value)})
    for cluster in ("single24", "geo24", "hetero42"):
        value = data.paper_objective(cluster, "llama70b")
        method = shown_layout("helix")
        rows.append(
            {
                "figure": "placement objective",
                "group": "max-flow of the paper's MILP layout",
                "source": "placement",
                "path": placement_file(cluster, "llama70b", method, "flow.json"),
                "cluster": cluster,
                "model": "llama70b",
                "method": method,
                "scheduler": "",
                "mode": "",
                "metric": "max_flow",
                "paper": value,
            }
        )
    # one row per (figure-independent) quantity: the same run can appear in several figures
    seen, unique = set(), []
    for r in rows:
        k = (r["path"], r["metric"])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    return {"rows": unique}


INPUT_KEYS = ("path", "layout", "flow", "cluster_yaml", "summary")
INPUT_LISTS = ("files", "profiles")


def spec_inputs(spec) -> list[str]:
    """Every file a spec reads (paths under INPUT_KEYS, lists under INPUT_LISTS, recursively),
    sorted and unique."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in INPUT_KEYS and isinstance(v, str):
                    found.add(v)
                elif k in INPUT_LISTS and isinstance(v, list):
                    found.update(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return sorted(found)


# ---- one record per figure ---------------------------------------------------------------------
S63 = "6.3 Single cluster (Fig. 5)"
S64 = "6.4 Geo-distributed (Fig. 7)"
S65 = "6.5 High heterogeneity (Fig. 8)"
S66 = "6.6 Placement deep dive (Fig. 9)"
S67 = "6.7 Request scheduling (Fig. 10)"
S68 = "6.8 Ablations (Fig. 11, Table 8)"
S69 = "6.9 Placement quality (Fig. 12)"
BEYOND = "Beyond the paper: served throughput"
CUSTOM = "Custom runs"


@dataclass(frozen=True)
class Figure:
    """One figure or table: everything the workflow knows about it besides its spec.

    ``name`` is the rule (``snakemake fig5a``), the output stem and the caption file
    (report/<name>.rst); ``section``/``topic`` are the report's category and subcategory;
    ``builder`` is the kind registered in helix.figures.FIGURE_BUILDERS that draws it; ``default``:
    built by ``rule all`` when the config can make it (solver-based figures run our own MILPs, so
    only ``all_figures`` builds them); ``in_all_figures``: built by ``all_figures`` (not the served
    figures, whose planner runs take hours: target ``served``); ``gallery``: a small copy is
    committed under docs/gallery/; ``with_table``: the builder also writes the numbers it draws to
    results/tables/<name>.csv; ``target``: the group target that builds it with its siblings
    (default: the paper figure's number, fig5a -> fig5). Its inputs are the files its spec
    (``build_catalog``) reads. A new figure is one record here plus its spec in build_catalog.
    """

    name: str
    section: str
    topic: str
    builder: str
    default: bool = True
    gallery: bool = False
    with_table: bool = False
    in_all_figures: bool = True
    target: str | None = None

    @property
    def table(self) -> bool:
        return self.builder in TABLE_BUILDERS

    @property
    def caption(self) -> str:
        return f"report/{self.name}.rst"

    @property
    def outputs(self) -> list[str]:
        table = [f"results/tables/{self.name}.csv"]
        if self.table:
            return table
        return [
            f"results/figures/{self.name}.pdf",
            f"results/figures/{self.name}.png",
            *(table if self.with_table else []),
        ]

    @property
    def group(self) -> str:
        """The target that builds it with its siblings: ``target`` if set (served), else the paper
        figure's number (fig5a -> fig5) or ``tables``."""
        return self.target or ("tables" if self.table else self.name.rstrip("abcdefgh"))


TABLE_BUILDERS = ("table8", "reproduction")  # builders that write a CSV table, not a PDF+PNG figure
FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure("fig5a", S63, "throughput", "throughput", gallery=True),
        Figure("fig5b", S63, "throughput", "throughput"),
        Figure("fig5c", S63, "throughput", "throughput"),
        Figure("fig5d", S63, "throughput", "throughput", gallery=True),
        Figure("fig5e", S63, "latency", "latency", gallery=True),
        Figure("fig5f", S63, "latency", "latency"),
        Figure("fig5g", S63, "latency", "latency"),
        Figure("fig5h", S63, "latency", "latency", gallery=True),
        Figure("fig7a", S64, "throughput", "throughput"),
        Figure("fig7b", S64, "throughput", "throughput", gallery=True),
        Figure("fig7c", S64, "latency", "latency"),
        Figure("fig7d", S64, "latency", "latency"),
        Figure("fig7e", S64, "latency", "latency"),
        Figure("fig7f", S64, "latency", "latency"),
        Figure("fig8a", S65, "throughput", "throughput", gallery=True),
        Figure("fig8b", S65, "latency", "latency"),
        Figure("fig8c", S65, "latency", "latency"),
        Figure("fig9a", S66, "throughput", "throughput", gallery=True),
        Figure("fig9b", S66, "placements", "placement", gallery=True),
        Figure("fig10a", S67, "throughput", "throughput", gallery=True),
        Figure("fig10b", S67, "congestion", "congestion", gallery=True),
        Figure("fig11a", S68, "pruning", "throughput", gallery=True),
        Figure("fig11b", S68, "warm start", "solver", default=False),
        Figure("fig12", S69, "solver trace", "solver", default=False, gallery=True),
        Figure("table8", S68, "MILP size", "table8", default=False),
        Figure("reproduction", "Summary", "paper vs ours", "reproduction"),
        Figure(
            "served_validation",
            BEYOND,
            "estimate vs simulation",
            "served_validation",
            default=False,
            gallery=True,
            in_all_figures=False,
            target="served",
        ),
        Figure(
            "served_throughput",
            BEYOND,
            "max-flow vs served throughput",
            "served_throughput",
            default=False,
            gallery=True,
            with_table=True,
            in_all_figures=False,
            target="served",
        ),
        Figure("custom_runs", CUSTOM, "decode throughput", "custom_runs", with_table=True),
    )
}
# Views of the records (tests and helpers); nothing is listed twice.
FIGURE_NAMES = [n for n, f in FIGURES.items() if not f.table]
TABLE_NAMES = tuple(n for n, f in FIGURES.items() if f.table)
DEFAULT_TARGETS = tuple(n for n, f in FIGURES.items() if f.default)
