"""Readers for the metric files the figures plot, and the paper's printed values.

Figures never run a simulation or a solver: they read the files other phases write. Every reader
checks what it needs and raises :class:`HelixInputError` naming the file and the missing field,
so a figure rule fails with one line instead of a blank plot. Column and key names of files that
other phases own are resolved here, in one place (``CONGESTION_COLUMNS``, ``MILP_SIZE_KEYS``,
``MILP_SIZE_FILE``), so a rename upstream is a one-line change.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from helix.errors import HelixInputError

PERCENTILES = (5, 25, 50, 75, 95)
LATENCY_KEYS = ("prompt_latency_s", "decode_latency_s")

# File the placement phase writes next to layout.yaml with the MILP's size (Table 8), and its keys
# holding the per-machine model without / with the paper's pruning.
MILP_SIZE_FILE = "milp_size.json"
MILP_SIZE_VARIANTS = ("unpruned", "pruned")
# canonical name -> accepted spellings in that file
MILP_SIZE_KEYS = {
    "rows": ("rows", "num_rows", "constraints", "num_constraints"),
    "columns": ("columns", "cols", "num_cols", "variables", "num_vars"),
    "nonzeros": ("nonzeros", "nnz", "num_nonzeros"),
}
# canonical name -> accepted column names of congestion.csv (simulator phase)
CONGESTION_COLUMNS = {
    "kind": ("kind", "type", "entity"),
    "name": ("name", "id", "machine", "resource"),
    "busy_fraction": ("busy_fraction", "busy", "utilisation", "utilization"),
    "mean_queue_delay_s": ("mean_queue_delay_s", "mean_queueing_delay_s", "queue_delay_s", "mean_stay_s"),
}
# canonical name -> accepted column names of solver_trace.csv (placement phase)
TRACE_COLUMNS = {
    "seconds": ("seconds", "time_s", "time"),
    "objective": ("objective", "incumbent"),
    "bound": ("bound", "best_bound"),
}

PAPER_VALUES = Path(__file__).with_name("paper_values.yaml")


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise HelixInputError(path, None, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None


def _number(path, field, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HelixInputError(path, field, "must be a number", value)
    return float(value)


def load_metrics(path: str | Path) -> dict:
    """A metrics.json of the simulator or prototype: throughput and latency summaries.

    Returns ``{"decode_throughput_tps": float, "prompt_latency_s": {mean,p5..p95} | None,
    "decode_latency_s": ..., **other keys}``. Latency summaries may be null (offline runs).
    """
    data = _read_json(path)
    if not isinstance(data, dict):
        raise HelixInputError(path, None, "metrics must be a JSON object")
    if "decode_throughput_tps" not in data:
        raise HelixInputError(path, "decode_throughput_tps", "missing")
    out = dict(data)
    out["decode_throughput_tps"] = _number(path, "decode_throughput_tps", data["decode_throughput_tps"])
    for key in LATENCY_KEYS:
        summary = data.get(key)
        if summary is None:
            out[key] = None
            continue
        if not isinstance(summary, dict):
            raise HelixInputError(path, key, "must be an object {mean, p5, p25, p50, p75, p95}", summary)
        stats = {}
        for stat in ("mean",) + tuple(f"p{p}" for p in PERCENTILES):
            stats[stat] = _number(path, f"{key}.{stat}", summary.get(stat), allow_none=True)
        out[key] = stats if any(v is not None for v in stats.values()) else None
    return out


def metric_value(metrics: dict, key: str) -> float | None:
    """Dotted lookup: ``decode_throughput_tps``, ``prompt_latency_s.p50``, ``max_flow``."""
    value: Any = metrics
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return None if value is None else float(value)


def _resolve_columns(df: pd.DataFrame, path, wanted: dict[str, tuple[str, ...]], required: tuple[str, ...]):
    rename = {}
    for canon, names in wanted.items():
        for n in names:
            if n in df.columns:
                rename[n] = canon
                break
        else:
            if canon in required:
                raise HelixInputError(path, canon, f"column missing (have {list(df.columns)})")
    return df.rename(columns=rename)


def load_congestion(path: str | Path) -> pd.DataFrame:
    """congestion.csv: one row per machine or link with busy fraction and mean queueing delay (s)."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "file not found")
    df = _resolve_columns(pd.read_csv(path), path, CONGESTION_COLUMNS, ("name", "mean_queue_delay_s"))
    if "kind" not in df.columns:
        df["kind"] = "machine"
    df["name"] = df["name"].astype(str)
    return df


def load_trace(path: str | Path) -> pd.DataFrame:
    """solver_trace.csv: (seconds, objective, bound[, source]) rows, sorted by time."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "file not found")
    df = _resolve_columns(pd.read_csv(path), path, TRACE_COLUMNS, ("seconds", "objective"))
    if "bound" not in df.columns:
        df["bound"] = float("nan")
    if (df["seconds"] < 0).any():
        raise HelixInputError(path, "seconds", "negative time", float(df["seconds"].min()))
    return df.sort_values("seconds", kind="stable").reset_index(drop=True)


def load_flow(path: str | Path) -> dict:
    """flow.json: ``max_flow``, ``arcs`` [{from, to, capacity, flow}] and, if written, node data."""
    data = _read_json(path)
    if not isinstance(data, dict) or "arcs" not in data:
        raise HelixInputError(path, "arcs", "missing")
    for i, arc in enumerate(data["arcs"]):
        for key in ("from", "to", "flow"):
            if key not in arc:
                raise HelixInputError(path, f"arcs[{i}].{key}", "missing")
    return data


def machine_usage(flow: dict) -> dict[str, tuple[float, float | None]]:
    """Per machine: (tokens/s through it, its capacity or None if flow.json has no node data).

    Node data is read from ``nodes`` ({name: {capacity, flow}} or a list of {name, capacity, flow})
    or ``node_capacity``/``node_flows`` maps; without it the through-flow is the sum of in-arcs.
    """
    through: dict[str, float] = {}
    for arc in flow["arcs"]:
        if arc["to"] not in ("sink",):
            through[arc["to"]] = through.get(arc["to"], 0.0) + float(arc["flow"])
    caps: dict[str, float] = {}
    nodes = flow.get("nodes")
    if isinstance(nodes, dict):
        for name, info in nodes.items():
            if isinstance(info, dict):
                if info.get("capacity") is not None:
                    caps[name] = float(info["capacity"])
                if info.get("flow") is not None:
                    through[name] = float(info["flow"])
    elif isinstance(nodes, list):
        for info in nodes:
            name = info.get("name")
            if info.get("capacity") is not None:
                caps[name] = float(info["capacity"])
            if info.get("flow") is not None:
                through[name] = float(info["flow"])
    for name, cap in (flow.get("node_capacity") or {}).items():
        caps[name] = float(cap)
    for name, f in (flow.get("node_flows") or flow.get("node_flow") or {}).items():
        through[name] = float(f)
    return {n: (f, caps.get(n)) for n, f in through.items() if n != "source"}


def load_milp_size(path: str | Path) -> dict[str, dict[str, int | None] | str | None]:
    """Table 8's MILP sizes from a helix-family run's milp_size.json.

    Returns ``{"unpruned": {rows, columns, nonzeros}, "pruned": {...}, "solved": {...} | None,
    "solved_variant": str | None}``. ``unpruned`` and ``pruned`` are the paper's per-machine MILP
    (docs/design/placement.md s2) on the full cluster and after the paper's pruning (s3): the placement phase
    writes both for every helix-family run, whatever it solved, and they are what Table 8 shows.
    The top level describes the model the run actually solved (on single24/hetero42 often the
    aggregated interval model of s11a, not comparable with the paper's), kept as ``solved``.
    """
    data = _read_json(path)
    if not isinstance(data, dict):
        raise HelixInputError(path, None, "must be a JSON object")

    def size(obj: dict, where: str, required: bool) -> dict[str, int | None] | None:
        out: dict[str, int | None] = {}
        for canon, names in MILP_SIZE_KEYS.items():
            value = next((obj[n] for n in names if n in obj), None)
            if value is None and canon != "nonzeros":
                if required:
                    raise HelixInputError(path, f"{where}{canon}", "missing")
                return None
            out[canon] = None if value is None else int(value)
        return out

    variants: dict = {}
    for key in MILP_SIZE_VARIANTS:
        if not isinstance(data.get(key), dict):
            raise HelixInputError(
                path, key, "missing: the per-machine MILP size (written by every helix-family placement)"
            )
        variants[key] = size(data[key], f"{key}.", required=True)
    variants["solved"] = size(data, "", required=False)
    variants["solved_variant"] = data.get("solved")
    return variants


@lru_cache(maxsize=1)
def paper_values() -> dict:
    """The paper's printed numbers (``paper_values.yaml``)."""
    return yaml.safe_load(PAPER_VALUES.read_text())


def _key(row) -> tuple:
    return (row["cluster"], row["model"], row["method"], row["scheduler"], row["mode"])


def paper_sim(cluster: str, model: str, method: str, scheduler: str, mode: str) -> dict | None:
    for row in paper_values()["simulation"]:
        if _key(row) == (cluster, model, method, scheduler, mode):
            return row
    return None


def paper_proto(
    cluster: str, model: str, method: str, scheduler: str, mode: str, part: str | None = None
) -> dict | None:
    """A prototype row of the paper; for the whole cluster (part None) the aggregate is built:
    throughput = sum of the sub-cluster rows (docs/design/prototype.md s8), percentiles = the pooled row,
    logs = every sub-cluster's log (parsed together they give the pooled figures)."""
    rows = [r for r in paper_values()["prototype"] if _key(r) == (cluster, model, method, scheduler, mode)]
    if not rows:
        return None
    if part is not None:
        return next((r for r in rows if r["part"] == part), None)
    whole = [r for r in rows if r["part"] is None]
    parts = [r for r in rows if r["part"] is not None]
    if whole and "decode_throughput_tps" in whole[0]:
        return whole[0]
    out: dict = {"cluster": cluster, "model": model, "method": method, "scheduler": scheduler, "mode": mode}
    out["part"] = None
    if parts and all("decode_throughput_tps" in r for r in parts):
        out["decode_throughput_tps"] = round(sum(r["decode_throughput_tps"] for r in parts), 3)
    if whole:
        out.update({k: whole[0][k] for k in ("prompt_p", "decode_p", "logs", "warmup_s") if k in whole[0]})
    elif len(parts) == 1:
        out.update({k: parts[0][k] for k in ("prompt_p", "decode_p")})
    logs = [log for r in parts for log in r["logs"]] if parts and not whole else out.get("logs")
    if logs:
        out["logs"] = logs
        out["warmup_s"] = (whole or parts)[0]["warmup_s"]
    return out


def paper_objective(cluster: str, model: str) -> float | None:
    for row in paper_values()["placement"]["objective_tps"]:
        if (row["cluster"], row["model"]) == (cluster, model):
            return float(row["value"])
    return None


def paper_milp_size(cluster: str, model: str, pruned: bool) -> dict | None:
    for row in paper_values()["placement"]["milp_size"]:
        if (row["cluster"], row["model"], bool(row["pruned"])) == (cluster, model, bool(pruned)):
            return row
    return None
