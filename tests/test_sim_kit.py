"""Tiny simulation setups shared by the simulator and scheduler tests (helpers only, no tests)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from helix.artifact.simulator_cluster import SimLink, SimNode, SimulatorCluster
from helix.artifact.traces import read_artifact_arrivals, read_artifact_lengths
from helix.models import load_hf_config
from helix.profiles.limits import engine_limits
from helix.profiles.store import ProfileStore

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
