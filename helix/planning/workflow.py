"""Helpers for rules/served.smk and the served figures (no Snakemake import): validation cases and
the comparison runs."""

from __future__ import annotations

from helix.placement.names import layout_method, on_graph_path

# (cluster, model) pairs of the estimator validation: the paper's three clusters, both models where
# the paper placed them (LLaMA-1 30B on single24 and geo24)
VALIDATION_CASES = (
    ("single24", "llama70b"),
    ("geo24", "llama70b"),
    ("hetero42", "llama70b"),
    ("single24", "llama30b"),
    ("geo24", "llama30b"),
)
# our layouts in every case: the serving-aware planner and the max-flow planner
OWN_METHODS = ("helix", "helix-maxflow")
# the comparison figure / benchmarks/served.py: layouts x clusters, online rate per cluster (the paper's);
# every layout is simulated through our own-layout path (the paper's as paper-helix@graph)
COMPARISON_LAYOUTS = (on_graph_path("paper-helix"), "helix-maxflow", "helix")
COMPARISON_RATES = {"single24": 700.0, "geo24": 320.0, "hetero42": 2150.0}
COMPARISON_MODEL = "llama70b"


def validation_csvs() -> list[str]:
    return [f"results/placements/validation/{c}/{m}.csv" for c, m in VALIDATION_CASES]


def own_layouts(wildcards) -> dict[str, str]:
    return {
        meth: f"results/placements/{wildcards.cluster}/{wildcards.model}/{meth}/layout.yaml"
        for meth in OWN_METHODS
    }


def case_pattern(index: int) -> str:
    return "|".join(sorted({case[index] for case in VALIDATION_CASES}))


def comparison_files() -> list[str]:
    """Every file the comparison (figure served_throughput and its table) reads."""
    sims, flows = [], []
    for c in COMPARISON_RATES:
        for lay in COMPARISON_LAYOUTS:
            flows.append(f"results/placements/{c}/{COMPARISON_MODEL}/{layout_method(lay)}/flow.json")
            for mode in ("offline", "online"):
                sims.append(f"results/sims/{c}/{COMPARISON_MODEL}/{lay}/helix/{mode}/metrics.json")
    layouts = [f.replace("flow.json", "layout.yaml") for f in flows]
    return [*sims, *flows, *layouts, *(f"results/clusters/{c}.yaml" for c in COMPARISON_RATES)]


def comparison_table(root: str = ".", model=None, profiles=None) -> list[dict]:
    """Rows {cluster, layout, max_flow, offline, online, rate} from the placement and sim results;
    with ``model`` (ModelSpec) and ``profiles`` also ``estimate_online``: the served estimate's
    online decode rate at the cluster's rate, or "saturated" when the layout cannot sustain it."""
    import json
    from pathlib import Path

    def load(path):
        p = Path(root) / path
        return json.loads(p.read_text()) if p.is_file() else None

    rows = []
    for c, rate in COMPARISON_RATES.items():
        for lay in COMPARISON_LAYOUTS:
            flow = load(f"results/placements/{c}/{COMPARISON_MODEL}/{layout_method(lay)}/flow.json")
            row = {"cluster": c, "layout": lay, "rate": rate, "max_flow": flow["max_flow"] if flow else None}
            for mode in ("offline", "online"):
                m = load(f"results/sims/{c}/{COMPARISON_MODEL}/{lay}/helix/{mode}/metrics.json")
                row[mode] = m["decode_throughput_tps"] if m else None
            if model is not None:
                row["estimate_online"] = _online_estimate(Path(root), c, lay, rate, model, profiles)
            rows.append(row)
    return rows


def _online_estimate(root, cluster_key: str, layout_name: str, rate: float, model, profiles):
    from helix.cluster import Cluster
    from helix.layout import Layout
    from helix.placement.api import make_problem
    from helix.placement.served import ServedModel
    from helix.placement.settings import PlacementPreset

    cpath = root / f"results/clusters/{cluster_key}.yaml"
    lpath = (
        root / f"results/placements/{cluster_key}/{COMPARISON_MODEL}/{layout_method(layout_name)}/layout.yaml"
    )
    if not (cpath.is_file() and lpath.is_file()):
        return None
    cl = Cluster.load(cpath)
    p = make_problem(cl, model, COMPARISON_MODEL, PlacementPreset(), profiles, None, cluster_key)
    e = ServedModel(cl, model, [p.table(i) for i in range(cl.n)], p.profiles).estimate_layout(
        Layout.load(lpath, cl), "online", rate
    )
    return "saturated" if e.saturated else round(e.throughput, 3)
