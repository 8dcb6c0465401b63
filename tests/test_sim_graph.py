"""The own-layout path (helix.sim.graph) against the paper's placement files.

The paper's layout, imported as a Layout on the cluster built from the artifact's cluster .ini,
must give the placement graph the paper's placement step wrote (docs/design/placement.md s5): the same nodes
(type, NICs, disk, KV 16*B(k)*k), every arc of the file with its latency and bandwidth, and no
arc the cluster does not allow. Arcs beyond the file's are ones the paper's *pruned* cluster graph
had dropped (geo24: n20->n7), information a layout alone does not carry; on that arc set the two
paths must simulate to identical numbers (docs/metrics.md "Max-flow vs. simulated throughput on geo24").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from helix.artifact.cluster_ini import read_cluster_ini
from helix.artifact.simulator_cluster import read_simulator_cluster
from helix.artifact.sol_ini import read_sol_ini
from helix.artifact.traces import import_traces, load_lengths
from helix.config import load_config
from helix.profiles.entry import paper_profiles
from helix.profiles.store import ProfileStore
from helix.sim.graph import graph_from_layout
from helix.sim.pipeline import load_model, paper_inputs, paper_ranges
from helix.sim.run import simulate
from helix.sim.settings import WorkloadSpec

REPO = Path(__file__).resolve().parents[1]
CLUSTER_INI = {
    "single24": "single_cluster/config/cluster24.ini",
    "geo24": "distributed_clusters/config/3cluster24.ini",
}


def _rename(n: str) -> str:
    return n if n in ("source", "sink") else f"n{int(n.rsplit('_', 1)[1]) - 2}"


@pytest.fixture(scope="module")
def cfg():
    return load_config(REPO / "config" / "config.yaml")


def _both(cfg, artifact_dir, cluster):
    sol, graph = paper_inputs(
        artifact_dir,
        {"cluster": cluster, "model": "llama70b", "method": "paper-helix", "parent": None, "part": None},
    )
    cl = read_cluster_ini(artifact_dir / "artifact_evaluation" / CLUSTER_INI[cluster], cluster)
    lay = read_sol_ini(sol, 80, cl)
    gpus = {k: v.model_dump(mode="json") for k, v in cfg.gpus.items()}
    return (
        sol,
        read_simulator_cluster(graph),
        cl,
        lay,
        graph_from_layout(
            cl, lay, paper_profiles("llama70b", ProfileStore.from_artifact(artifact_dir)), gpus
        ),
    )


@pytest.mark.parametrize("cluster", ["single24", "geo24"])
def test_paper_layout_gives_the_paper_placement_graph(cfg, artifact_dir, cluster):
    _, paper, cl, lay, ours = _both(cfg, artifact_dir, cluster)
    pn = {_rename(n.name): (n.machine_type, n.nic_in, n.nic_out, n.disk, n.kv_capacity) for n in paper.nodes}
    on = {n.name: (n.machine_type, n.nic_in, n.nic_out, n.disk, n.kv_capacity) for n in ours.nodes}
    assert on == pn
    assert (ours.coord_in, ours.coord_out) == (paper.coord_in, paper.coord_out)
    pa = {(_rename(l.src), _rename(l.dst)): l for l in paper.links}
    oa = {(l.src, l.dst): l for l in ours.links}
    assert set(pa) <= set(oa)
    for k, l in pa.items():
        assert oa[k].bandwidth == l.bandwidth and oa[k].latency == pytest.approx(l.latency, abs=1e-12), k
    allowed = {frozenset((l.a, l.b)) for l in cl.links}
    assert all(frozenset(k) in allowed for k in oa)
    if cluster == "single24":  # uniform network: the paper's pruning dropped no valid arc
        assert set(oa) == set(pa)


def test_paper_layout_simulates_the_same_through_both_paths(cfg, artifact_dir, tmp_path):
    sol, paper, cl, lay, ours = _both(cfg, artifact_dir, "geo24")
    keep = {(_rename(l.src), _rename(l.dst)) for l in paper.links}
    ours = dataclasses.replace(ours, links=[l for l in ours.links if (l.src, l.dst) in keep])
    m = cfg.models["llama70b"]
    model = load_model("llama70b", artifact_dir / m.config_json[len("artifact:") :], m.param_bytes_per_layer)
    inp, out = load_lengths(import_traces(artifact_dir, tmp_path)["lengths"])
    store = ProfileStore.from_artifact(artifact_dir)
    wl = WorkloadSpec(mode="offline", warmup_s=20, duration_s=120)
    a = simulate(model, paper, paper_ranges(sol, 80), store, "helix", wl, (inp.tolist(), out.tolist()))
    b = simulate(model, ours, dict(lay.used()), store, "helix", wl, (inp.tolist(), out.tolist()))
    assert a.max_flow == pytest.approx(1212.18, abs=0.01) and b.max_flow == pytest.approx(
        a.max_flow, rel=1e-12
    )
    assert a.metrics["n_decodes"] > 1000
    for key in ("decode_throughput_tps", "n_prompts", "n_decodes", "decode_latency_s", "prompt_latency_s"):
        assert b.metrics[key] == a.metrics[key], key


# Every arc our path adds to a paper layout, per layout (docs/metrics.md "One placement graph per
# layout"): arcs of the full cluster that the authors' pruned cluster graph had dropped.
EXTRA_ARCS = {
    ("single24", "paper-helix"): set(),
    ("geo24", "paper-helix"): {("n20", "n7")},
    ("hetero42", "paper-helix"): {
        ("n14", "n1"),
        ("n20", "n36"),
        ("n22", "n36"),
        ("n29", "n2"),
        ("n32", "n2"),
    },
    ("geo24", "paper-swarm"): set(),
    ("hetero42", "paper-petals"): set(),
}
CLUSTER_INI["hetero42"] = "high_heterogeneity/config/cluster42.ini"


@pytest.mark.parametrize("cluster,method", sorted(EXTRA_ARCS))
def test_the_only_difference_is_the_authors_pruning(cfg, artifact_dir, cluster, method):
    """Same nodes, capacities and arcs, except the arcs of EXTRA_ARCS; on the pruned cluster the
    authors placed on (``pruned_cluster.ini``) our path writes their placement graph arc for arc."""
    sol, graph = paper_inputs(
        artifact_dir,
        {"cluster": cluster, "model": "llama70b", "method": method, "parent": None, "part": None},
    )
    full = read_cluster_ini(artifact_dir / "artifact_evaluation" / CLUSTER_INI[cluster], cluster)
    lay = read_sol_ini(sol, 80, full)
    gpus = {k: v.model_dump(mode="json") for k, v in cfg.gpus.items()}
    paper = read_simulator_cluster(graph)
    pa = {(_rename(l.src), _rename(l.dst)): (l.bandwidth, round(l.latency, 12)) for l in paper.links}
    partial = method == "paper-petals"
    profiles = paper_profiles("llama70b", ProfileStore.from_artifact(artifact_dir))
    ours = graph_from_layout(full, lay, profiles, gpus, partial=partial)
    oa = {(l.src, l.dst): (l.bandwidth, round(l.latency, 12)) for l in ours.links}
    assert set(oa) - set(pa) == EXTRA_ARCS[(cluster, method)] and not set(pa) - set(oa)
    assert all(oa[k] == v for k, v in pa.items())
    pruned = graph.parent / "pruned_cluster.ini"
    if EXTRA_ARCS[(cluster, method)]:
        assert pruned.is_file()
        on_pruned = graph_from_layout(read_cluster_ini(pruned, cluster), lay, profiles, gpus, partial=partial)
        assert {(l.src, l.dst): (l.bandwidth, round(l.latency, 12)) for l in on_pruned.links} == pa
