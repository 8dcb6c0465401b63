"""Every bad cluster input fails with one line naming the file (or config entry), the field and the value."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helix.artifact.cluster_ini import read_cluster_ini, read_machine_profiles
from helix.cluster import Cluster
from helix.clusters.build import build_cluster
from helix.errors import HelixInputError

GPUS = {"A100": {"vram_bytes": 40e9}, "L4": {"vram_bytes": 24e9}, "T4": {"vram_bytes": 16e9}}
FAKE = {"generator": "fake", "types": {"A100": 1, "T4": 2}, "link": {"bandwidth": 1e9, "latency": 1e-3}}
GOOD_YAML = {
    "name": "hand",
    "machines": [{"name": "a", "gpu": "A100"}, {"name": "b", "gpu": "T4"}],
    "links": [
        {"a": "source", "b": "a", "bandwidth": 1e9, "latency": 1e-3},
        {"a": "a", "b": "b", "bandwidth": 1e9, "latency": 1e-3},
        {"a": "b", "b": "sink", "bandwidth": 1e9, "latency": 1e-3},
    ],
}
GOOD_INI = """\
[NodeNames]
total_compute_nodes=2

[SourceNode]
connected_nodes=[0]

[SinkNode]
connected_nodes=[1]

[ComputeNode-0]
type=A100
connected_nodes=['source', 1]

[ComputeNode-1]
type=T4
connected_nodes=[0, 'sink']

[Link-source-0]
bandwidth=12.5 * mbps
latency=50 * MilliSec

[Link-0-1]
bandwidth=1000 * mbps
latency=1 * MilliSec

[Link-1-sink]
bandwidth=12.5 * mbps
latency=50 * MilliSec
"""


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    return msg


def _yaml_file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "hand.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _ini_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hand.ini"
    path.write_text(text)
    return path


def test_good_inputs_load(tmp_path):
    c = Cluster.load(_yaml_file(tmp_path, GOOD_YAML))
    assert [m.gpu for m in c.machines] == ["A100", "T4"]
    c = read_cluster_ini(_ini_file(tmp_path, GOOD_INI), "hand", known_gpus=GPUS)
    assert [(l.a, l.b) for l in c.links] == [("source", "n0"), ("n0", "n1"), ("n1", "sink")]
    assert c.links[0].bandwidth == 12.5e6 and c.links[0].latency == 0.05


# ----- YAML clusters (generator: file) ------------------------------------------------------
def _mutated(fn) -> dict:
    data = copy.deepcopy(GOOD_YAML)
    fn(data)
    return data


YAML_CASES = [
    ("missing field", lambda d: d["links"][1].pop("bandwidth"), "links[1].bandwidth: missing"),
    ("missing machines", lambda d: d.pop("machines"), "machines: missing"),
    (
        "negative bandwidth",
        lambda d: d["links"][1].update(bandwidth=-5.0),
        "links[1].bandwidth: must be positive (bytes/s) (got -5.0)",
    ),
    (
        "zero bandwidth",
        lambda d: d["links"][0].update(bandwidth=0),
        "links[0].bandwidth: must be positive (bytes/s) (got 0.0)",
    ),
    ("unknown GPU type", lambda d: d["machines"][1].update(gpu="H9000"), "machines[1].gpu: unknown GPU type"),
    (
        "duplicate machine",
        lambda d: d["machines"].append({"name": "a", "gpu": "L4"}),
        "machines[2].name: duplicate machine name (got 'a')",
    ),
    (
        "link to unknown machine",
        lambda d: d["links"].append({"a": "b", "b": "zz", "bandwidth": 1, "latency": 0}),
        "links[3].b: link to an unknown machine (got 'zz')",
    ),
]


@pytest.mark.parametrize("case, mutate, expected", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_bad_yaml_cluster_file(tmp_path, case, mutate, expected):
    path = _yaml_file(tmp_path, _mutated(mutate))
    with pytest.raises(HelixInputError) as info:
        build_cluster("hand", {"generator": "file", "path": str(path)}, GPUS)
    msg = _one_line(info)
    assert msg.startswith(str(path)), msg
    assert expected in msg
    if case == "unknown GPU type":
        assert "'H9000'" in msg


# ----- artifact .ini clusters ----------------------------------------------------------------
INI_CASES = [
    ("missing field", ("type=T4\n", ""), "[ComputeNode-1] type: missing"),
    (
        "missing latency",
        ("bandwidth=1000 * mbps\nlatency=1 * MilliSec\n", "bandwidth=1000 * mbps\n"),
        "[Link-0-1] latency: missing",
    ),
    (
        "negative bandwidth",
        ("bandwidth=1000 * mbps", "bandwidth=-1 * mbps"),
        "[Link-0-1] bandwidth: must be positive (bytes/s) (got -1000000.0)",
    ),
    (
        "zero bandwidth",
        ("bandwidth=1000 * mbps", "bandwidth=0 * mbps"),
        "[Link-0-1] bandwidth: must be positive (bytes/s) (got 0.0)",
    ),
    ("unknown GPU type", ("type=T4", "type=H9000"), "machines[1].gpu: unknown GPU type"),
    (
        "duplicate machine",
        ("[ComputeNode-1]\ntype=T4", "[ComputeNode-0]\ntype=T4"),
        "[ComputeNode-0]: duplicate section",
    ),
    (
        "link to unknown machine",
        ("[Link-0-1]", "[Link-0-7]"),
        "[Link-0-7]: link to an unknown machine (total_compute_nodes=2) (got 7)",
    ),
    (
        "not an expression",
        ("latency=1 * MilliSec", "latency=__import__('os')"),
        "[Link-0-1] latency: not a unit expression",
    ),
    (
        "unknown unit",
        ("latency=1 * MilliSec", "latency=1 * fortnight"),
        "[Link-0-1] latency: not a unit expression (got '1 * fortnight')",
    ),
    (
        "inconsistent adjacency",
        ("connected_nodes=[0, 'sink']", "connected_nodes=['sink']"),
        "[ComputeNode-1] connected_nodes: does not match the [Link-*] sections (got ['n0'])",
    ),
    (
        "node beyond count",
        ("total_compute_nodes=2", "total_compute_nodes=1"),
        "[ComputeNode-1]: machine index beyond total_compute_nodes=1",
    ),
]


@pytest.mark.parametrize("case, edit, expected", INI_CASES, ids=[c[0] for c in INI_CASES])
def test_bad_ini_cluster_file(tmp_path, case, edit, expected):
    old, new = edit
    assert old in GOOD_INI
    path = _ini_file(tmp_path, GOOD_INI.replace(old, new, 1))
    with pytest.raises(HelixInputError) as info:
        build_cluster("hand", {"generator": "file", "path": str(path)}, GPUS)
    msg = _one_line(info)
    assert msg.startswith(str(path)), msg
    assert expected in msg


def test_missing_artifact_file(tmp_path):
    spec = {"generator": "file", "path": "artifact:artifact_evaluation/nope/cluster24.ini"}
    with pytest.raises(HelixInputError) as info:
        build_cluster("gone", spec, GPUS, artifact_dir=tmp_path / "no-artifact")
    msg = _one_line(info)
    assert msg.startswith("clusters.gone: path: cluster file not found")
    assert "no-artifact/artifact_evaluation/nope/cluster24.ini" in msg
    with pytest.raises(HelixInputError, match=r"^.*missing\.ini: file not found$"):
        read_cluster_ini(tmp_path / "missing.ini")
    with pytest.raises(HelixInputError, match=r"machine_profiles\.ini: file not found$"):
        read_machine_profiles(tmp_path / "machine_profiles.ini")


# ----- config entries (the spec) ---------------------------------------------------------------
SPEC_CASES = [
    ("missing field", {"generator": "fake"}, "clusters.bad: types: Field required"),
    (
        "missing generator",
        {"types": {"T4": 1}},
        "clusters.bad: Unable to extract tag using discriminator 'generator'",
    ),
    (
        "negative bandwidth",
        FAKE | {"link": {"bandwidth": -1, "latency": 0}},
        "clusters.bad: link.bandwidth: Input should be greater than 0 (got -1)",
    ),
    (
        "zero bandwidth",
        FAKE | {"link": {"bandwidth": 0, "latency": 0}},
        "clusters.bad: link.bandwidth: Input should be greater than 0 (got 0)",
    ),
    (
        "unknown GPU type",
        FAKE | {"types": {"H9000": 2}},
        "clusters.bad: machines[0].gpu: unknown GPU type (known: A100, L4, T4) (got 'H9000')",
    ),
    (
        "degree too large",
        FAKE | {"avg_degree": 5},
        "clusters.bad: avg_degree: must be at most 2 for 3 machines (got 5)",
    ),
    (
        "empty region",
        {
            "generator": "partitioned",
            "regions": [["T4"], []],
            "in_region": {"bandwidth": 1, "latency": 0},
            "cross_region": {"bandwidth": 1, "latency": 0},
        },
        "clusters.bad: regions[1]: a region needs at least one machine",
    ),
]


@pytest.mark.parametrize("case, spec, expected", SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_bad_spec(case, spec, expected):
    with pytest.raises(HelixInputError) as info:
        build_cluster("bad", spec, GPUS)
    assert _one_line(info) == expected or expected in _one_line(info)


def test_derived_cluster_errors():
    parent = build_cluster("p", FAKE, GPUS)
    with pytest.raises(HelixInputError) as info:
        build_cluster("p-l4", {"generator": "subcluster", "parent": "p", "gpu": "L4"}, GPUS, parent)
    assert (
        _one_line(info)
        == "clusters.p-l4: gpu: no machine of this GPU type in p (has ['A100', 'T4']) (got 'L4')"
    )
    with pytest.raises(HelixInputError) as info:
        build_cluster(
            "w", {"generator": "replace_gpu", "parent": "p", "replace": {"V100": "T4"}}, GPUS, parent
        )
    assert "clusters.w: replace.V100: no machine of this GPU type in p" in _one_line(info)
    with pytest.raises(HelixInputError) as info:
        build_cluster(
            "w", {"generator": "replace_gpu", "parent": "p", "replace": {"T4": "B200"}}, GPUS, parent
        )
    assert (
        "clusters.w: machines[" in _one_line(info)
        and "].gpu: unknown GPU type" in _one_line(info)
        and "'B200'" in _one_line(info)
    )
    with pytest.raises(HelixInputError, match="the parent cluster was not given"):
        build_cluster("p-t4", {"generator": "subcluster", "parent": "p", "gpu": "T4"}, GPUS)


def test_cli_exits_nonzero_with_one_line_and_writes_nothing(tmp_path):
    bad = _yaml_file(tmp_path, _mutated(lambda d: d["links"][1].update(bandwidth=0)))
    out = tmp_path / "out.ini"
    proc = subprocess.run(
        [sys.executable, "-m", "helix.cli", "cluster", "convert", str(bad), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        f"error: {bad}: links[1].bandwidth: must be positive (bytes/s) (got 0.0)"
    ]
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
