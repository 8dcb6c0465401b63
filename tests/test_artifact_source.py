"""The one artifact resolver, and the clone path end to end without internet (issue 15, case 7).

The clone test serves the reference artifact as a local git repository, points the config's
``artifact.repo``/``artifact.commit`` at it, and runs the default target (profiles, validation,
placement, simulation of one small case) plus ``fit_analytic`` with no ``HELIX_ARTIFACT_DIR`` and
no ``artifact.path``: the artifact comes only through the real ``fetch_artifact`` rule.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helix.artifact.source import CLONE_DIR, CLONE_MARKER, ArtifactSource, artifact_root

from snakemake_cli import snakemake_cmd

REPO = Path(__file__).resolve().parents[1]


def test_resolution_order_env_then_config_then_clone():
    env = {"HELIX_ARTIFACT_DIR": "/data/art"}
    assert ArtifactSource("/cfg/art", env).root == "/data/art"
    assert ArtifactSource("/cfg/art", {}).root == "/cfg/art" and not ArtifactSource("/cfg/art", {}).cloned
    clone = ArtifactSource(None, {})
    assert clone.cloned and clone.root == CLONE_DIR and clone.inputs() == [CLONE_MARKER]
    assert ArtifactSource("/cfg/art", {}).inputs() == []
    # a file inside the artifact: the marker stands for it when cloned, the file itself otherwise
    rel = "artifact:simulator/x.csv"
    assert clone.file_input(rel) == [CLONE_MARKER] and clone.path(rel) == Path(CLONE_DIR) / "simulator/x.csv"
    assert ArtifactSource("/a", {}).file_input(rel) == ["/a/simulator/x.csv"]
    assert clone.file_input("config/m.json") == ["config/m.json"]
    # an explicit root (a --artifact option, a rule param) wins over the environment
    assert ArtifactSource.at("/x").root == "/x" and not ArtifactSource.at(CLONE_DIR).cloned
    assert artifact_root("/x") == Path("/x")
    assert ArtifactSource.from_config_dict({"artifact": {"path": "/p"}}, {}).root == "/p"
    assert ArtifactSource.from_config_dict({}, {}).cloned


def _local_artifact_repo(src: Path, dest: Path) -> str:
    """A git repository holding a copy of the reference artifact; returns its commit."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".git"))
    git = ["git", "-C", str(dest), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "artifact"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.slow
def test_default_target_through_the_cloned_artifact(artifact_dir, tmp_path):
    commit = _local_artifact_repo(artifact_dir, tmp_path / "upstream")
    work = tmp_path / "work"
    work.mkdir()
    cfg = yaml.safe_load((REPO / "config/test/config.yaml").read_text())
    assert cfg["artifact"]["path"] is None
    cfg["artifact"].update(repo=str(tmp_path / "upstream"), commit=commit)
    cfg["models"] = {"llama70b": cfg["models"]["llama70b"]}  # config_json: artifact:...
    cfg["clusters"] = {"place12": cfg["clusters"]["place12"]}
    sim = {
        "cluster": "place12",
        "model": "llama70b",
        "method": "helix",
        "scheduler": "helix",
        "mode": "offline",
        "workload": {"mode": "offline", "n_init": 4, "duration_s": 30, "warmup_s": 0},
    }
    cfg["experiments"] = {
        "clone": {
            "section": "6.3",
            "clusters": ["place12"],
            "models": ["llama70b"],
            "placements": ["helix"],
            "simulations": [sim],
        }
    }
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k != "HELIX_ARTIFACT_DIR"}
    cmd = snakemake_cmd(work, config=work / "config.yaml", cores=2)
    run = subprocess.run(
        [*cmd, "all", "results/profiles/analytic_fit.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    for rule in (
        "fetch_artifact",
        "import_profiles",
        "import_traces",
        "validate_profiles",
        "fit_analytic",
        "placement_helix",
        "simulate",
    ):
        assert f"rule {rule}:" in out, rule
    assert (work / CLONE_MARKER).read_text().strip() == commit
    fit = json.loads((work / "results/profiles/analytic_fit.json").read_text())
    assert len(fit["trained_on"]) > 0
    assert (work / "results/profiles/validation.csv").read_text().count("\n") > 1
    flow = json.loads((work / "results/placements/place12/llama70b/helix/flow.json").read_text())
    assert flow["max_flow"] > 0
    metrics = json.loads(
        (work / "results/sims/place12/llama70b/helix/helix/offline/metrics.json").read_text()
    )
    assert metrics["decode_throughput_tps"] > 0
    dry = subprocess.run(
        [*cmd, "-n", "all", "results/profiles/analytic_fit.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr
