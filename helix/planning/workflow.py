"""Helpers for rules/served.smk (no Snakemake import): validation cases and the comparison runs."""

from __future__ import annotations

from collections.abc import Callable

# (cluster, model) pairs of the estimator validation: the paper's three clusters, both models where
# the paper placed them (LLaMA-1 30B on single24 and geo24)
VALIDATION_CASES = (("single24", "llama70b"), ("geo24", "llama70b"), ("hetero42", "llama70b"), ("single24", "llama30b"), ("geo24", "llama30b"))
# our layouts in every case: the serving-aware planner and the max-flow planner
OWN_METHODS = ("helix", "helix-maxflow")
# the comparison figure / benchmarks/served.py: layouts x clusters, online rate per cluster (the paper's)
COMPARISON_LAYOUTS = ("paper-helix", "helix-maxflow", "helix")
COMPARISON_RATES = {"single24": 700.0, "geo24": 320.0, "hetero42": 2150.0}
COMPARISON_MODEL = "llama70b"


def validation_csvs() -> list[str]:
    return [f"results/placements/validation/{c}/{m}.csv" for c, m in VALIDATION_CASES]


def own_layouts(wildcards) -> dict[str, str]:
    return {meth: f"results/placements/{wildcards.cluster}/{wildcards.model}/{meth}/layout.yaml" for meth in OWN_METHODS}


def case_pattern(index: int) -> str:
    return "|".join(sorted({case[index] for case in VALIDATION_CASES}))


def comparison_inputs() -> Callable:
    def inputs(wildcards) -> dict[str, list[str]]:
        sims, flows = [], []
        for c in COMPARISON_RATES:
            for lay in COMPARISON_LAYOUTS:
                flows.append(f"results/placements/{c}/{COMPARISON_MODEL}/{lay}/flow.json")
                for mode in ("offline", "online"):
                    sims.append(f"results/sims/{c}/{COMPARISON_MODEL}/{lay}/helix/{mode}/metrics.json")
        return {"sims": sims, "flows": flows}

    return inputs


def comparison_table(root: str = ".") -> list[dict]:
    """Rows {cluster, layout, max_flow, offline, online, rate} from the placement and sim results."""
    import json
    from pathlib import Path

    def load(path):
        p = Path(root) / path
        return json.loads(p.read_text()) if p.is_file() else None

    rows = []
    for c, rate in COMPARISON_RATES.items():
        for lay in COMPARISON_LAYOUTS:
            flow = load(f"results/placements/{c}/{COMPARISON_MODEL}/{lay}/flow.json")
            row = {"cluster": c, "layout": lay, "rate": rate, "max_flow": flow["max_flow"] if flow else None}
            for mode in ("offline", "online"):
                m = load(f"results/sims/{c}/{COMPARISON_MODEL}/{lay}/helix/{mode}/metrics.json")
                row[mode] = m["decode_throughput_tps"] if m else None
            rows.append(row)
    return rows
