"""Tiny simulation setups shared by the simulator and scheduler tests (helpers only, no tests)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from helix.artifact.simulator_cluster import SimLink, SimNode, SimulatorCluster, read_simulator_cluster
from helix.artifact.traces import read_artifact_arrivals, read_artifact_lengths
from helix.models import load_hf_config
from helix.profiles.limits import engine_limits
from helix.profiles.store import ProfileStore
from helix.sim.paper import paper_files
from helix.sim.pipeline import load_model, paper_ranges
from helix.sim.settings import WorkloadSpec

L = 8  # a LLaMA-2 70B cut to 8 layers: real profiles and limits, tiny runs


def artifact() -> Path:
    return Path(os.environ["HELIX_ARTIFACT_DIR"])


def tiny_model():
    spec = load_hf_config(
        artifact() / "artifact_evaluation/single_cluster/models/llama70b/config.json",
        "llama70b",
        param_bytes_per_layer_override=1.53e9,
    )
    return dataclasses.replace(spec, num_layers=L)


def store() -> ProfileStore:
    return ProfileStore.from_artifact(artifact())


def traces():
    lengths = read_artifact_lengths(artifact())
    return (lengths["input"].tolist(), lengths["output"].tolist()), read_artifact_arrivals(artifact())[
        "count"
    ].tolist()


def node(name: str, gpu: str, k: int, kv: int | None = None) -> SimNode:
    cap = kv if kv is not None else engine_limits("llama70b", gpu).kv_capacity(k)
    return SimNode(name, gpu, 40e9, 10e9, 10e9, 1e9, cap)


def link(a: str, b: str, bw: float = 1e9, lat: float = 1e-3) -> SimLink:
    return SimLink(f"link_{a}_{b}", a, b, lat, bw)


def diamond(kv: dict | None = None, drop_sink: bool = False):
    """Two first-half nodes (A100, L4) fully linked to two second-half nodes (T4, L4)."""
    kv = kv or {}
    names = {"n2": "A100", "n3": "L4", "n4": "T4", "n5": "L4"}
    nodes = [node(n, g, 4, kv.get(n)) for n, g in names.items()]
    links = [link("source", "n2"), link("source", "n3")]
    links += [link(a, b) for a in ("n2", "n3") for b in ("n4", "n5")]
    if not drop_sink:
        links += [link("n4", "sink"), link("n5", "sink")]
    ranges = {"n2": (0, 4), "n3": (0, 4), "n4": (4, 8), "n5": (4, 8)}
    return SimulatorCluster(nodes, links, source="tiny-diamond"), ranges


def chain():
    nodes = [node("n2", "L4", 4), node("n3", "T4", 4)]
    links = [link("source", "n2"), link("n2", "n3"), link("n3", "sink")]
    return SimulatorCluster(nodes, links, source="tiny-chain"), {"n2": (0, 4), "n3": (4, 8)}


def tiny_workload(mode: str, sched: str) -> WorkloadSpec:
    """The tiny placements' workload: online 60 s at 300 tokens/s; offline 30 s after a 5 s warm-up,
    12 queries at a time (helix: the scheduler's own count)."""
    if mode == "online":
        return WorkloadSpec(mode=mode, rate_tps=300, duration_s=60)
    return WorkloadSpec(mode=mode, warmup_s=5, duration_s=30, n_init=None if sched == "helix" else 12)


def paper_case_args(artifact_dir: Path, case: tuple) -> tuple:
    """simulate()'s arguments for a paper layout: case = (cluster, model, method, scheduler, workload)."""
    cluster, model, method, sched, wl = case
    sol, graph = paper_files(artifact_dir, cluster, model, method)
    m = load_model(
        model, artifact_dir / f"artifact_evaluation/single_cluster/models/{model}/config.json", 1.53e9
    )
    (lengths, counts) = traces()
    return (
        m,
        read_simulator_cluster(graph),
        paper_ranges(sol, m.num_layers),
        store(),
        sched,
        WorkloadSpec(**wl),
        lengths,
        counts,
    )


def sim_state(out) -> dict:
    """What a run leaves in the simulator, by name: the finished iterations (time and latency), the
    per-node and per-link congestion accumulators and the KV peaks and use."""
    sim = out.sim
    return {
        "decode": bytes(out.result.decode),
        "prompt": bytes(out.result.prompt),
        "node_busy": sim.node_busy,
        "node_stay": sim.node_stay,
        "node_stay_n": sim.node_stay_n,
        "link_busy": sim.link_busy,
        "link_wait": sim.link_wait,
        "link_sends": sim.link_sends,
        "kv_peak": sim.kv_peak,
        "kv_used": sim.kv_used,
    }
