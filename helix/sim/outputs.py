"""Result files of a simulation run (docs/design/README.md, "Names"; docs/metrics.md).

Per run directory: ``metrics.json`` (figures), ``requests.parquet`` (one row per query),
``congestion.csv`` (per machine and link: busy fraction and mean queueing delay, Fig. 10b),
``iterations.parquet`` (finish time and latency of every prompt/decode iteration: the samples the
sub-cluster aggregation pools) and ``meta.json`` (the resolved run entry, versions, git revision).
Nothing holds wall times, so reruns are byte-identical. Aggregates of part runs write the same files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from helix.errors import HelixInputError
from helix.io import atomic_path, write_json
from helix.metrics import aggregate

NODE_LABEL = "RequestLocation.ComputeNode-{uid}"


def _clean(obj):
    """JSON without NaN: NaN/inf become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _write_parquet(path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow")


def iterations_frame(out) -> pd.DataFrame:
    p = (
        np.frombuffer(out.result.prompt, dtype=np.float64).reshape(-1, 2)
        if len(out.result.prompt)
        else np.empty((0, 2))
    )
    d = (
        np.frombuffer(out.result.decode, dtype=np.float64).reshape(-1, 2)
        if len(out.result.decode)
        else np.empty((0, 2))
    )
    return pd.DataFrame(
        {
            "phase": pd.Categorical(
                ["prompt"] * len(p) + ["decode"] * len(d), categories=["prompt", "decode"]
            ),
            "finish_s": np.concatenate([p[:, 0], d[:, 0]]),
            "latency_s": np.concatenate([p[:, 1], d[:, 1]]),
        }
    )


def requests_frame(out) -> pd.DataFrame:
    names = out.prepared.names
    rows = []
    for q in out.result.queries:
        route = ">".join(names[s[1]] for s in q.route if s[1] in names)
        rows.append(
            (
                q.qid,
                q.arrival,
                q.input,
                q.output,
                route,
                q.rejected,
                q.prompt_lat,
                q.prompt_fin,
                q.done,
                q.dec_sum / q.done if q.done else float("nan"),
                q.dec_max if q.done else float("nan"),
                q.finish,
            )
        )
    cols = [
        "query_id",
        "arrival_s",
        "input_tokens",
        "output_tokens",
        "route",
        "rejected",
        "prompt_latency_s",
        "prompt_finish_s",
        "decodes_done",
        "decode_latency_mean_s",
        "decode_latency_max_s",
        "finish_s",
    ]
    return pd.DataFrame(rows, columns=cols)


def congestion_frame(out) -> pd.DataFrame:
    sim = out.sim
    topo = out.prepared.topo
    span = out.window[1] - out.window[0]
    rows = []
    for uid in sorted(topo.nodes):
        n = topo.nodes[uid]
        k = sim.node_stay_n[uid]
        rows.append(
            (
                "node",
                n.name,
                NODE_LABEL.format(uid=uid),
                n.gpu,
                sim.node_busy[uid] / span,
                sim.node_stay[uid] / k if k else float("nan"),
                k,
            )
        )
    endpoint = {0: "source", 1: "sink", **{u: n.name for u, n in topo.nodes.items()}}
    for l in topo.links:
        k = sim.link_sends[l.uid]
        rows.append(
            (
                "link",
                f"{endpoint[l.src]}->{endpoint[l.dst]}",
                f"link-{l.uid}",
                "",
                sim.link_busy[l.uid] / span,
                sim.link_wait[l.uid] / k if k else float("nan"),
                k,
            )
        )
    return pd.DataFrame(
        rows, columns=["kind", "name", "label", "gpu", "busy_fraction", "mean_queueing_delay_s", "samples"]
    )


def run_metrics(out, entry: dict) -> dict:
    m = out.metrics
    return _clean(
        {
            "decode_throughput_tps": m["decode_throughput_tps"],
            "prompt_latency_s": m["prompt_latency_s"],
            "decode_latency_s": m["decode_latency_s"],
            "n_requests": sum(1 for q in out.result.queries if not q.rejected),
            "n_rejected": out.result.rejected,
            "n_prompts": m["n_prompts"],
            "n_decodes": m["n_decodes"],
            "window_s": m["window_s"],
            "window": list(out.window),
            "t0_s": out.prepared.t0,
            "seed": (entry.get("workload") or {}).get("seed", 0),
            "max_flow": out.max_flow,
            "events": out.result.events,
        }
    )


def meta(entry: dict, inputs: dict, profiles: dict | None = None) -> dict:
    from helix.provenance import provenance

    return {
        "run": entry,
        "inputs": {k: str(v) for k, v in inputs.items()},
        **provenance(("networkx", "numpy")),
        "profiles": profiles,
    }


def write_run(paths: dict, out, entry: dict, inputs: dict) -> dict:
    """Write every output of one run; ``paths`` maps metrics/requests/congestion/iterations/meta."""
    metrics = run_metrics(out, entry)
    _write_parquet(paths["iterations"], iterations_frame(out))
    _write_parquet(paths["requests"], requests_frame(out))
    with atomic_path(paths["congestion"]) as tmp:
        congestion_frame(out).to_csv(tmp, index=False)
    if "meta" in paths:
        write_json(paths["meta"], meta(entry, inputs, getattr(out, "provenance", None)))
    write_json(paths["metrics"], metrics)
    return metrics


def _samples(df: pd.DataFrame, phase: str) -> np.ndarray:
    sub = df[df["phase"] == phase]
    return sub[["finish_s", "latency_s"]].to_numpy(dtype=np.float64)


PART_METRICS = ("window", "decode_throughput_tps", "n_requests")  # what an aggregate reads of a part


def _read_part(d: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One part run's files; a missing, empty, truncated or incomplete one is a one-line error."""
    from helix.io import read_json

    pm = read_json(d / "metrics.json", "part metrics")
    if not isinstance(pm, dict):
        raise HelixInputError(d / "metrics.json", None, "must be a JSON object of metrics")
    for key in PART_METRICS:
        if key not in pm:
            raise HelixInputError(d / "metrics.json", key, "missing (not a simulation's metrics.json?)")
    w = pm["window"]
    if not (
        isinstance(w, list)
        and len(w) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in w)
    ):
        raise HelixInputError(d / "metrics.json", "window", "must be [start_s, end_s]", w)
    if not (np.isfinite(w).all() and w[0] < w[1]):
        raise HelixInputError(d / "metrics.json", "window", "must be finite with start_s < end_s", w)
    for key, kinds in (
        ("n_requests", (int,)),
        ("n_rejected", (int,)),
        ("decode_throughput_tps", (int, float)),
        ("max_flow", (int, float, type(None))),
    ):
        if key in pm and (isinstance(pm[key], bool) or not isinstance(pm[key], kinds)):
            raise HelixInputError(d / "metrics.json", key, "must be a number", pm[key])
    frames = []
    for name, read in (
        ("iterations.parquet", pd.read_parquet),
        ("requests.parquet", pd.read_parquet),
        ("congestion.csv", pd.read_csv),
    ):
        path = d / name
        if not path.is_file():
            raise HelixInputError(path, None, "part output not found")
        try:
            frames.append(read(path))
        except Exception as exc:  # pyarrow / pandas parser errors on a truncated file
            raise HelixInputError(
                path,
                None,
                f"cannot read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            ) from None
    it = frames[0]
    missing = [c for c in ("phase", "finish_s", "latency_s") if c not in it.columns]
    if missing:
        raise HelixInputError(d / "iterations.parquet", "columns", "missing", missing)
    return pm, frames[0], frames[1], frames[2]


def write_aggregate(paths: dict, part_dirs: list[str | Path], entry: dict) -> dict:
    """Aggregate part runs: throughputs add up, latency samples are pooled (docs/metrics.md)."""
    parts = []
    metrics_parts = {}
    reqs, cong = [], []
    its = []
    for d in part_dirs:
        d = Path(d)
        pm, it, r, c = _read_part(d)
        window = tuple(pm["window"])
        parts.append((_samples(it, "prompt"), _samples(it, "decode"), window))
        name = d.parts[-5]
        metrics_parts[name] = pm
        its.append(it.assign(part=name))
        r.insert(0, "part", name)
        reqs.append(r)
        c.insert(0, "part", name)
        cong.append(c)
    if not parts:
        raise HelixInputError("simulation", "parts", "an aggregate needs at least one part")
    m = aggregate(parts)
    metrics = _clean(
        {
            "decode_throughput_tps": m["decode_throughput_tps"],
            "prompt_latency_s": m["prompt_latency_s"],
            "decode_latency_s": m["decode_latency_s"],
            "n_requests": sum(p["n_requests"] for p in metrics_parts.values()),
            "n_rejected": sum(p.get("n_rejected", 0) for p in metrics_parts.values()),
            "n_prompts": m["n_prompts"],
            "n_decodes": m["n_decodes"],
            "window_s": m["window_s"],
            "seed": (entry.get("workload") or {}).get("seed", 0),
            "max_flow": None,
            "parts": {
                k: {
                    "decode_throughput_tps": v["decode_throughput_tps"],
                    "max_flow": v.get("max_flow"),
                    "t0_s": v.get("t0_s"),
                }
                for k, v in metrics_parts.items()
            },
        }
    )
    flows = [v.get("max_flow") for v in metrics_parts.values()]
    if all(f is not None for f in flows):
        metrics["max_flow"] = sum(flows)
    profiles: dict = {}
    if "meta" in paths:  # read before anything is written: a bad part leaves no partial aggregate
        from helix.io import read_json

        for d in part_dirs:  # the parts' provenance, merged (each part has its own GPU types)
            part_meta = Path(d) / "meta.json"
            if part_meta.is_file():
                doc = read_json(part_meta, "part meta")
                if not isinstance(doc, dict) or not isinstance(doc.get("profiles") or {}, dict):
                    raise HelixInputError(
                        part_meta, "profiles", "must be a JSON object with a 'profiles' mapping"
                    )
                profiles.update(doc.get("profiles") or {})
    it = pd.concat(its, ignore_index=True)
    _write_parquet(paths["iterations"], it)
    _write_parquet(paths["requests"], pd.concat(reqs, ignore_index=True))
    with atomic_path(paths["congestion"]) as tmp:
        pd.concat(cong, ignore_index=True).to_csv(tmp, index=False)
    if "meta" in paths:
        write_json(
            paths["meta"], meta(entry, {"parts": ",".join(str(d) for d in part_dirs)}, profiles or None)
        )
    write_json(paths["metrics"], metrics)
    return metrics
