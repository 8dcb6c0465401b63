"""The paper's clusters are reproduced bit for bit, and the .ini <-> Cluster <-> YAML paths are exact.

Generated clusters are compared with the artifact's own files: machine types in order, and every
link's endpoints, bandwidth and latency compared as floats with ``==`` (both sides evaluate the
same printed number, so any drift in the RNG call order or rounding shows up here).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from helix.artifact.cluster_ini import (
    cluster_ini_text,
    format_value,
    gpu_catalogue_from_profiles,
    read_cluster_ini,
    read_machine_profiles,
    write_cluster_ini,
)
from helix.cluster import Cluster
from helix.clusters.build import build_cluster, cluster_document, cluster_gpu_types, subcluster_names
from helix.config.schema import load_config
from helix.units import eval_expr

REPO = Path(__file__).resolve().parents[1]
AE = "artifact_evaluation"

# (config cluster, artifact file): every copy of each cluster file the artifact ships.
PAPER_FILES = [
    ("single24", f"{AE}/single_cluster/config/cluster24.ini"),
    ("single24", f"{AE}/model_placement/config_single/cluster24.ini"),
    ("geo24", f"{AE}/model_placement/config_distributed/3cluster24.ini"),
    ("geo24", f"{AE}/distributed_clusters/config/3cluster24.ini"),
    ("geo24", f"{AE}/ablation/config/3cluster24.ini"),
    ("hetero42", f"{AE}/high_heterogeneity/config/cluster42.ini"),
    ("hetero42", f"{AE}/ablation/config/cluster42.ini"),
    ("small10", f"{AE}/ablation/config/cluster10.ini"),
    ("single24-a100", f"{AE}/single_cluster/config/a100.ini"),
    ("single24-l4", f"{AE}/single_cluster/config/l4.ini"),
    ("single24-t4", f"{AE}/single_cluster/config/t4.ini"),
    ("geo24-a100", f"{AE}/distributed_clusters/config/a100.ini"),
    ("geo24-l4", f"{AE}/distributed_clusters/config/l4.ini"),
    ("geo24-t4", f"{AE}/distributed_clusters/config/t4.ini"),
]

# Node types as docs/design/placement.md s7 lists them (independent of the artifact being present).
PAPER_TYPES = {
    "single24": "L4 T4 T4 L4 T4 L4 A100 T4 T4 A100 A100 L4 T4 T4 L4 T4 T4 A100 L4 T4 T4 L4 T4 L4",
    "hetero42": "T4 L4x2 L4 V100 T4x4 L4x2 L4 V100 A100 T4x2 T4 T4x2 V100 T4 V100 L4 T4 T4x2 L4 T4 L4x2 A100 "
    "T4x2 L4 T4x2 T4 V100 T4x4 L4 T4 T4 T4x4 L4x2 T4x4 T4x2 A100 T4 L4 V100 L4 A100 T4",
    "small10": "T4 L4 T4 T4 L4 T4 T4 T4 L4 L4",
}


@pytest.fixture(scope="module")
def config():
    return load_config(REPO / "config" / "config.yaml")


@pytest.fixture(scope="module")
def built(config):
    """Every cluster of the paper config, parents first (config order puts them first)."""
    out: dict[str, Cluster] = {}
    for name, spec in config.clusters.items():
        parent = out.get(getattr(spec, "parent", None) or "")
        out[name] = build_cluster(name, spec.model_dump(mode="json"), config.gpus, parent)
    return out


def _links(cluster: Cluster) -> list[tuple]:
    return [(l.a, l.b, l.bandwidth, l.latency) for l in cluster.links]


@pytest.mark.parametrize(
    "name, rel", PAPER_FILES, ids=[f"{n}:{Path(r).parent.parent.name}" for n, r in PAPER_FILES]
)
def test_generated_cluster_equals_artifact_file(built, artifact_dir, name, rel):
    ref = read_cluster_ini(artifact_dir / rel, name)
    ours = built[name]
    assert [m.gpu for m in ours.machines] == [m.gpu for m in ref.machines]
    assert [m.name for m in ours.machines] == [f"n{i}" for i in range(ref.n)]
    assert len(ours.links) == len(ref.links) == ref.n * (ref.n - 1) // 2 + 2 * ref.n
    mismatched = [(o, r) for o, r in zip(_links(ours), _links(ref)) if o != r]
    assert not mismatched, f"{len(mismatched)} links differ, first: {mismatched[0]}"


@pytest.mark.parametrize("name", sorted(PAPER_TYPES))
def test_fake_generator_node_types_match_placement_md(built, name):
    assert " ".join(m.gpu for m in built[name].machines) == PAPER_TYPES[name]
    links = built[name].links
    assert {(l.bandwidth, l.latency) for l in links} == {(1e9, 1e-3)}  # 1 gbps, 1 ms everywhere


def test_geo24_regions_and_link_laws(built):
    geo = built["geo24"]
    assert [m.region for m in geo.machines] == ["r0"] * 4 + ["r1"] * 10 + ["r2"] * 10
    assert geo.gpu_mix() == {"A100": 4, "L4": 8, "T4": 12}
    region = {m.name: m.region for m in geo.machines}
    for l in geo.links:
        inside = l.a in region and l.b in region and region[l.a] == region[l.b]
        if inside:
            assert 1125e6 <= l.bandwidth <= 1375e6 and l.bandwidth % 1e6 == 0 and l.latency == 1e-3
        else:  # cross-region and every coordinator link
            assert 10e6 <= l.bandwidth <= 15e6 and 0.040 <= l.latency <= 0.059 + 1e-12
    # the paper's range of observed values (docs/design/placement.md s7)
    inside = [l.bandwidth for l in geo.links if l.latency == 1e-3]
    assert min(inside) == 1125e6 and max(inside) == 1370e6


def test_geo24_changes_with_seed(config):
    spec = config.clusters["geo24"].model_dump(mode="json") | {"seed": 1}
    other = build_cluster("geo24", spec, config.gpus)
    base = build_cluster("geo24", config.clusters["geo24"], config.gpus)
    assert [m.gpu for m in other.machines] == [m.gpu for m in base.machines]  # regions fix the types
    assert _links(other) != _links(base)


def test_subcluster_renames_in_parent_order_and_keeps_only_same_type_links(built):
    geo, sub = built["geo24"], built["geo24-l4"]
    mapping = subcluster_names(geo, "L4")
    assert mapping == {f"n{j}": f"n{i}" for j, i in enumerate([4, 5, 14, 15, 16, 17, 18, 19])}
    assert "n0=n4" in sub.description and "n7=n19" in sub.description
    parent_links = geo.link_map()
    rename = {**mapping, "source": "source", "sink": "sink"}
    for l in sub.links:
        ref = parent_links[frozenset((rename[l.a], rename[l.b]))]
        assert (l.bandwidth, l.latency) == (ref.bandwidth, ref.latency)
    assert {m.region for m in sub.machines} == {"r1", "r2"}
    assert sub.coordinator == geo.coordinator


def test_replace_gpu_swaps_types_and_keeps_topology(config, built):
    what_if = build_cluster(
        "geo24-l4-as-a100",
        {"generator": "replace_gpu", "parent": "geo24", "replace": {"L4": "A100"}},
        config.gpus,
        built["geo24"],
    )
    assert what_if.gpu_mix() == {"A100": 12, "T4": 12}
    assert [m.name for m in what_if.machines] == [m.name for m in built["geo24"].machines]
    assert what_if.links == built["geo24"].links


def test_cluster_gpu_types_is_the_config_slice(config):
    specs = {k: v.model_dump(mode="json") for k, v in config.clusters.items()}
    assert cluster_gpu_types("single24", specs) == ["A100", "T4", "L4"]
    assert cluster_gpu_types("geo24", specs) == ["A100", "L4", "T4"]
    assert cluster_gpu_types("geo24-t4", specs) == ["T4"]
    specs["x"] = {"generator": "replace_gpu", "parent": "small10", "replace": {"T4": "V100"}}
    assert cluster_gpu_types("x", specs) == ["L4", "V100"]
    specs["f"] = {"generator": "file", "path": "some.yaml"}
    assert cluster_gpu_types("f", specs) is None


# ----- artifact .ini round trips ------------------------------------------------------------
# One file per distinct cluster (the artifact ships byte-identical copies of several).
ROUND_TRIP_FILES = [rel for i, (name, rel) in enumerate(PAPER_FILES) if name not in dict(PAPER_FILES[:i])] + [
    f"{AE}/model_placement/layout_distributed/ilp/pruned_cluster.ini",  # sparse, links not in index order
    f"{AE}/high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini",
]


@pytest.mark.parametrize("rel", ROUND_TRIP_FILES)
def test_ini_to_yaml_to_ini_round_trip(artifact_dir, tmp_path, rel):
    first = read_cluster_ini(artifact_dir / rel, "c")
    first.save(tmp_path / "c.yaml")
    from_yaml = Cluster.load(tmp_path / "c.yaml")
    assert from_yaml == first
    write_cluster_ini(from_yaml, tmp_path / "c.ini")
    again = read_cluster_ini(tmp_path / "c.ini", "c")
    assert again == first
    # and the text is stable: writing the re-read cluster gives the same file
    assert cluster_ini_text(again) == (tmp_path / "c.ini").read_text()


def test_written_ini_keeps_the_artifact_layout(built, artifact_dir):
    """Section names, connected_nodes lists and values match the artifact file line for line."""
    ours = cluster_ini_text(built["geo24"]).splitlines()
    ref = (artifact_dir / f"{AE}/distributed_clusters/config/3cluster24.ini").read_text().splitlines()
    body = lambda lines: [l for l in lines if l and not l.startswith("#")]  # noqa: E731
    ours, ref = body(ours), body(ref)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref):
        if "=" in a and a.split("=")[0] in ("bandwidth", "latency"):
            assert eval_expr(a.split("=", 1)[1]) == eval_expr(b.split("=", 1)[1])
        else:
            assert a == b


def test_generated_yaml_to_ini_keeps_types_and_links(built, tmp_path):
    for name in ("geo24", "hetero42", "single24-t4"):
        write_cluster_ini(built[name], tmp_path / f"{name}.ini")
        back = read_cluster_ini(tmp_path / f"{name}.ini", name)
        assert [m.gpu for m in back.machines] == [m.gpu for m in built[name].machines]
        assert back.links == built[name].links


def test_format_value_is_exact_for_any_float():
    rng = random.Random(7)
    values = [rng.uniform(1e3, 2e9) for _ in range(2000)] + [12.5e6, 1e9, 1282e6, 14.2e6, 0.1, 3e-7]
    for v in values:
        assert eval_expr(format_value(v, 1e6, "mbps")) == v
    for v in [rng.uniform(0, 0.2) for _ in range(2000)] + [0.001, 0.055, 0.0]:
        assert eval_expr(format_value(v, 1e-3, "MilliSec")) == v
    assert format_value(14.2e6, 1e6, "mbps") == "14.2 * mbps"
    assert format_value(1e9, 1e6, "mbps") == "1000 * mbps"


def test_machine_profiles_match_the_config_catalogue(config, artifact_dir):
    profiles = read_machine_profiles(artifact_dir / f"{AE}/single_cluster/config/machine_profiles.ini")
    assert profiles["SourceNode"] == {
        "inbound_nic_speed": None,
        "outbound_nic_speed": 10e9,
        "disk_speed": None,
        "vram_size": None,
    }
    assert profiles["SinkNode"]["inbound_nic_speed"] == 10e9
    catalogue = gpu_catalogue_from_profiles(profiles)
    assert set(catalogue) <= set(config.gpus)  # the config may add types the paper did not use
    for name, entry in catalogue.items():
        gpu = config.gpus[name]
        assert (gpu.num_gpus, gpu.vram_bytes, gpu.nic_in, gpu.nic_out, gpu.disk) == (
            entry["num_gpus"],
            entry["vram_bytes"],
            entry["nic_in"],
            entry["nic_out"],
            entry["disk"],
        ), name


def test_cluster_document_carries_the_gpu_types_it_uses(config, built, tmp_path):
    doc = cluster_document(built["geo24-t4"], config.gpus)
    assert list(doc["gpu_types"]) == ["T4"] and doc["gpu_types"]["T4"]["vram_bytes"] == 16e9
    from helix.io import write_yaml

    write_yaml(tmp_path / "t4.yaml", doc)
    assert Cluster.load(tmp_path / "t4.yaml") == built["geo24-t4"]


def test_all_pairs_complete(built):
    """single24/hetero42/small10 are complete graphs with every coordinator link."""
    for name in ("single24", "hetero42", "small10"):
        c = built[name]
        pairs = {frozenset(p) for p in itertools.combinations([m.name for m in c.machines], 2)}
        have = set(c.link_map())
        assert pairs <= have
        assert all(
            frozenset(("source", m.name)) in have and frozenset((m.name, "sink")) in have for m in c.machines
        )


# ----- generator options beyond the paper's settings ----------------------------------------
def test_fake_sparse_graph_and_fill_links(config):
    base = {"generator": "fake", "types": {"T4": 5, "L4": 3}, "link": {"bandwidth": 1e9, "latency": 1e-3}}
    sparse = build_cluster("s", base | {"avg_degree": 3, "source_degree": 2, "sink_degree": 4}, config.gpus)
    compute = [l for l in sparse.links if "source" not in (l.a, l.b) and "sink" not in (l.a, l.b)]
    assert len(compute) == 8 * 3 // 2
    assert sum(l.a == "source" for l in sparse.links) == 2 and sum(l.b == "sink" for l in sparse.links) == 4
    slow = {"bandwidth": 12.5e6, "bandwidth_var": 2.5e6, "latency": 0.05, "latency_var": 0.01}
    filled = build_cluster("f", base | {"avg_degree": 3, "fill_link": slow}, config.gpus)
    compute = [l for l in filled.links if "source" not in (l.a, l.b) and "sink" not in (l.a, l.b)]
    assert len(compute) == 8 * 7 // 2
    fast = [l for l in compute if l.bandwidth == 1e9]
    assert len(fast) == 12 and all(10e6 <= l.bandwidth <= 15e6 for l in compute if l.bandwidth != 1e9)
    # the degrees consume RNG draws before the shuffle, so they change the permutation
    complete = build_cluster("c", base, config.gpus)
    assert [m.gpu for m in sparse.machines] != [m.gpu for m in complete.machines]


def test_rounding_can_be_switched_off_and_coordinator_law_overridden(config):
    spec = config.clusters["geo24"].model_dump(mode="json")
    raw = build_cluster("g", spec | {"rounding": None}, config.gpus)
    assert any(l.bandwidth % 1e5 for l in raw.links)  # unrounded draws
    rounded = build_cluster("g", spec, config.gpus)
    for r, l in zip(raw.links, rounded.links):  # same draws, only rounded
        assert abs(r.bandwidth - l.bandwidth) <= 1e6 and 0 <= r.latency - l.latency < 1e-3
    fast = spec | {"coordinator_link": {"bandwidth": 1e9, "latency": 0.001}}
    c = build_cluster("g", fast, config.gpus)
    assert {(l.bandwidth, l.latency) for l in c.links if "source" in (l.a, l.b) or "sink" in (l.a, l.b)} == {
        (1e9, 0.001)
    }


def test_rule_params_carry_only_the_gpu_types_a_cluster_uses(config):
    from types import SimpleNamespace

    from helix.clusters.workflow import file_input, gpus_param

    gpus = gpus_param(config)
    assert list(gpus(SimpleNamespace(cluster="geo24-t4"))) == ["T4"]
    assert list(gpus(SimpleNamespace(cluster="small10"))) == ["T4", "L4"]
    assert gpus(SimpleNamespace(cluster="small10"))["L4"]["vram_bytes"] == 24e9
    from helix.artifact.source import ArtifactSource

    assert file_input(config, ArtifactSource())(SimpleNamespace(cluster="geo24")) == []
