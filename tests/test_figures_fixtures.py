"""Fabricated metric files for figure tests: every input a figure spec names, with known values.

Values are derived from a hash of the path (deterministic, distinct per file), so a test can
recompute what each bar should show. Not a test module itself apart from the sanity check below.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from helix.cluster import Cluster, Link, Machine
from helix.layout import Layout

GPUS = ["A100"] * 4 + ["L4"] * 8 + ["T4"] * 12


def _u(path: str, salt: str = "") -> float:
    """A number in [0, 1) determined by the path."""
    h = hashlib.sha256((path + salt).encode()).hexdigest()
    return int(h[:8], 16) / 2**32


def fake_metrics(path: str) -> dict:
    thr = round(50 + 300 * _u(path), 3)

    def summary(salt: str, scale: float) -> dict:
        base = scale * (0.2 + _u(path, salt))
        ps = [round(base * f, 4) for f in (0.3, 0.6, 1.0, 1.8, 3.5)]
        return {"mean": round(base * 1.3, 4), **{f"p{p}": v for p, v in zip((5, 25, 50, 75, 95), ps)}}

    return {
        "decode_throughput_tps": thr,
        "prompt_latency_s": summary("prompt", 2.0),
        "decode_latency_s": summary("decode", 0.5),
        "n_requests": 100,
        "window_s": 600.0,
        "seed": 0,
        "max_flow": thr * 1.2,
    }


def fake_cluster(name: str = "geo24") -> Cluster:
    regions = ["r0"] * 4 + ["r1"] * 10 + ["r2"] * 10
    machines = [Machine(f"n{i}", g, regions[i]) for i, g in enumerate(GPUS)]
    links = [Link("source", m.name, 1e9, 0.001) for m in machines] + [
        Link(m.name, "sink", 1e9, 0.001) for m in machines
    ]
    for i in range(len(machines)):
        for j in range(i + 1, len(machines)):
            links.append(Link(machines[i].name, machines[j].name, 1e9, 0.001))
    return Cluster(name, machines, links)


def fake_layout_and_flow(path_key: str, num_layers: int = 80) -> tuple[Layout, dict]:
    """Three pipelines of 8 machines x 10 layers; flow through each machine a known fraction."""
    ranges, arcs, nodes = {}, [], {}
    for p in range(3):
        chain = [f"n{p + 3 * k}" for k in range(8)]
        f = 100.0 * (1 + p)
        for k, name in enumerate(chain):
            ranges[name] = (10 * k, 10 * k + 10)
            cap = f / (0.3 + 0.7 * _u(path_key, name))
            nodes[name] = {"capacity": round(cap, 4), "flow": f}
            arcs.append(
                {"from": "source" if k == 0 else chain[k - 1], "to": name, "capacity": 1e6, "flow": f}
            )
        arcs.append({"from": chain[-1], "to": "sink", "capacity": 1e6, "flow": f})
    return Layout(num_layers, ranges), {"max_flow": 600.0, "upper_bound": 900.0, "arcs": arcs, "nodes": nodes}


def fake_trace(path: str) -> str:
    best = 1000 * (0.5 + _u(path))
    lines = ["seconds,objective,bound,source"]
    for t, f, b in ((0.0, 0.0, 50.0), (0.5, 0.3, 20.0), (3.0, 0.6, 5.0), (40.0, 0.9, 1.5), (300.0, 1.0, 1.1)):
        lines.append(f"{t},{best * f:.4f},{best * b:.4f},fake")
    return "\n".join(lines) + "\n"


def fake_congestion(path: str) -> str:
    lines = ["kind,name,busy_fraction,mean_queue_delay_s"]
    for i in range(24):
        lines.append(f"machine,n{i},{_u(path, f'b{i}'):.4f},{2 * _u(path, f'q{i}'):.4f}")
    lines.append("link,n0-n1,0.5,0.01")
    return "\n".join(lines) + "\n"


def fake_milp_size(path: str) -> dict:
    """The placement phase's format: the model the run solved at the top (here the aggregated
    interval model, a different size), the per-machine model without / with pruning below."""

    def size(salt: str) -> dict:
        return {
            "rows": int(1000 + 4000 * _u(path, salt)),
            "columns": int(800 + 3000 * _u(path, salt + "c")),
            "nonzeros": int(10000 * (1 + _u(path, salt + "z"))),
        }

    pruned, unpruned, solved = size("p"), size("u"), size("s")
    return {"solved": "aggregated", **solved, "pruned": pruned, "unpruned": unpruned, "aggregated": solved}


VALIDATION_CLUSTERS = ("single24", "geo24", "hetero42")


def fake_validation(path: str) -> str:
    """estimator_validation.csv: four layouts per cluster, the estimate a known multiple of the simulation."""
    lines = ["cluster,model,layout,source,max_flow,estimate,crossings,simulated"]
    for c in VALIDATION_CLUSTERS:
        for k in range(4):
            sim = round(100 + 500 * _u(path, f"{c}{k}"), 3)
            lines.append(f"{c},llama70b,l{k},fake,{sim * 1.5:.3f},{sim * 0.9:.3f},{k},{sim}")
    return "\n".join(lines) + "\n"


def fake_validation_summary(path: str) -> dict:
    return {
        c: {
            "layouts": 4,
            "spearman_estimate": 1.0,
            "spearman_max_flow": 0.4,
            "pairs": 6,
            "pairs_ordered_estimate": 6,
            "pairs_ordered_max_flow": 4,
        }
        for c in VALIDATION_CLUSTERS
    }


def write_inputs(root: Path, paths: list[str]) -> None:
    """Create every file of ``paths`` under ``root`` with fabricated content."""
    root = Path(root)
    for rel in paths:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        name = p.name
        if name == "metrics.json" or (p.suffix == ".json" and "paper-proto" in rel):
            p.write_text(json.dumps(fake_metrics(rel)))
        elif name == "congestion.csv":
            p.write_text(fake_congestion(rel))
        elif name == "solver_trace.csv":
            p.write_text(fake_trace(rel))
        elif name == "milp_size.json":
            p.write_text(json.dumps(fake_milp_size(rel)))
        elif name == "layout.yaml":
            fake_layout_and_flow(str(p.parent))[0].save(p)
        elif name == "flow.json":
            p.write_text(json.dumps(fake_layout_and_flow(str(p.parent))[1]))
        elif name == "estimator_validation.csv":
            p.write_text(fake_validation(rel))
        elif name == "estimator_validation.json":
            p.write_text(json.dumps(fake_validation_summary(rel)))
        elif rel.startswith("results/clusters/"):
            fake_cluster(p.stem).save(p)
        else:
            raise ValueError(f"no fabricator for {rel}")


def test_fixtures_cover_every_catalogue_input(tmp_path):
    from helix.figures.catalog import Context, build_catalog, spec_inputs

    specs = build_catalog(Context(exists=lambda p: False, artifact_dir=None, parser_available=False))
    paths = sorted({p for s in specs.values() for p in spec_inputs(s)})
    write_inputs(tmp_path, paths)
    assert all((tmp_path / p).is_file() for p in paths)
