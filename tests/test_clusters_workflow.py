"""Real Snakemake runs of the cluster rules on a copy of the test config.

Checks the workflow contract of the clusters phase: every configured cluster builds, a second run
has nothing to do, editing one cluster's definition rebuilds that cluster and the clusters derived
from it and nothing else, and a bad cluster file fails the job with one line and no output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from helix.cluster import Cluster

from snakemake_cli import run_snakemake

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

EXTRA_CLUSTERS = {
    # the paper's cluster10 both ways: generated, and read from the artifact's .ini
    "small10": {"generator": "fake", "seed": 0, "types": {"T4": 6, "L4": 4}},
    "art10": {"generator": "file", "path": "artifact:artifact_evaluation/ablation/config/cluster10.ini"},
    "tiny4-all-l4": {"generator": "replace_gpu", "parent": "tiny4", "replace": {"T4": "L4", "A100": "L4"}},
    "hand": {"generator": "file", "path": "hand.yaml"},
}
HAND = {
    "name": "hand",
    "machines": [{"name": "a", "gpu": "A100"}, {"name": "b", "gpu": "T4"}],
    "links": [
        {"a": "source", "b": "a", "bandwidth": 1e9, "latency": 1e-3},
        {"a": "a", "b": "b", "bandwidth": 1e9, "latency": 1e-3},
        {"a": "b", "b": "sink", "bandwidth": 1e9, "latency": 1e-3},
    ],
}


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *args)


def _write_config(workdir: Path, data: dict) -> None:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _mtimes(workdir: Path) -> dict[str, int]:
    return {p.stem: p.stat().st_mtime_ns for p in (workdir / "results" / "clusters").glob("*.yaml")}


@pytest.fixture
def workdir(tmp_path, artifact_dir) -> Path:
    data = yaml.safe_load((REPO / "config" / "test" / "config.yaml").read_text())
    data["clusters"].update(EXTRA_CLUSTERS)
    _write_config(tmp_path, data)
    (tmp_path / "hand.yaml").write_text(yaml.safe_dump(HAND))
    return tmp_path


def test_cluster_rules_build_once_and_rebuild_only_what_changed(workdir):
    data = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    names = set(data["clusters"])

    run = _snakemake(workdir, "clusters")
    assert run.returncode == 0, run.stderr[-3000:]
    first = _mtimes(workdir)
    assert set(first) == names

    out = workdir / "results" / "clusters"
    t4 = Cluster.load(out / "tiny4-t4.yaml")
    assert t4.gpu_mix() == {"T4": 2} and [m.name for m in t4.machines] == ["n0", "n1"]
    assert Cluster.load(out / "tiny4-all-l4.yaml").gpu_mix() == {"L4": 4}
    generated, imported = Cluster.load(out / "small10.yaml"), Cluster.load(out / "art10.yaml")
    assert [m.gpu for m in generated.machines] == [m.gpu for m in imported.machines]
    assert generated.links == imported.links
    assert Cluster.load(out / "hand.yaml").name == "hand"
    doc = yaml.safe_load((out / "tinygeo6.yaml").read_text())
    assert sorted(doc["gpu_types"]) == ["A100", "L4", "T4"]
    # the rule runner's provenance line, then the script's own
    head, line = (workdir / "logs" / "clusters" / "tinygeo6.log").read_text().splitlines()[:2]
    assert head.startswith("# rule cluster: helix-workflow ") and line.startswith("tinygeo6: 6 machines")

    dry = _snakemake(workdir, "-n", "clusters")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr

    # edit tiny4's definition: tiny4 and the clusters derived from it rebuild, nothing else
    data["clusters"]["tiny4"]["link"]["latency"] = 0.002
    _write_config(workdir, data)
    run = _snakemake(workdir, "clusters")
    assert run.returncode == 0, run.stderr[-3000:]
    second = _mtimes(workdir)
    changed = {k for k in names if second[k] != first[k]}
    assert changed == {"tiny4", "tiny4-t4", "tiny4-all-l4"}
    assert {l.latency for l in Cluster.load(out / "tiny4-t4.yaml").links} == {0.002}

    # a hand-written cluster file edited on disk rebuilds that cluster only
    hand = yaml.safe_load((workdir / "hand.yaml").read_text())
    hand["links"][1]["bandwidth"] = 5e8
    (workdir / "hand.yaml").write_text(yaml.safe_dump(hand))
    run = _snakemake(workdir, "clusters")
    assert run.returncode == 0, run.stderr[-3000:]
    third = _mtimes(workdir)
    assert {k for k in names if third[k] != second[k]} == {"hand"}


def test_bad_cluster_file_fails_with_one_line_and_no_output(workdir):
    bad = dict(HAND, machines=HAND["machines"] + [{"name": "a", "gpu": "L4"}])
    (workdir / "hand.yaml").write_text(yaml.safe_dump(bad))
    run = _snakemake(workdir, "results/clusters/hand.yaml")
    assert run.returncode != 0
    assert not (workdir / "results" / "clusters" / "hand.yaml").exists()
    log = (workdir / "logs" / "clusters" / "hand.log").read_text().strip().splitlines()
    assert log[1:] == ["error: hand.yaml: machines[2].name: duplicate machine name (got 'a')"]
    assert "error: hand.yaml: machines[2].name: duplicate machine name" in run.stderr
