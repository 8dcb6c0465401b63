"""The profiles phase end to end: `helix import-artifact` and real Snakemake runs of its rules."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helix.cli import main
from helix.profiles.store import ProfileStore

from snakemake_cli import run_snakemake

TARGETS = [
    "resources/traces/azure_conv_lengths.parquet",
    "resources/traces/azure_conv_arrivals.csv",
    "resources/profiles/llama70b/l4/prompt.csv",
]


def test_cli_import_artifact(artifact_dir, tmp_path, capsys):
    assert main(["import-artifact", "--artifact", str(artifact_dir), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "traces" / "azure_conv_lengths.parquet").is_file()
    assert (tmp_path / "traces" / "azure_conv_arrivals.csv").is_file()
    store = ProfileStore(tmp_path / "profiles")
    assert store.get("llama30b", "T4x2").decode_time(500) == pytest.approx(0.032)
    assert "14 (model, GPU) pairs" in capsys.readouterr().out


def test_cli_missing_artifact_is_one_line(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["import-artifact", "--artifact", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {missing}: --artifact: artifact directory not found"
    assert not (tmp_path / "out").exists()


def _snakemake(repo: Path, workdir: Path, artifact: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact))
    return run_snakemake(workdir, *args, config=repo / "config" / "test" / "config.yaml", env=env)


@pytest.mark.slow
def test_snakemake_imports_then_nothing_to_do(repo, artifact_dir, tmp_path):
    run = _snakemake(repo, tmp_path, artifact_dir, *TARGETS)
    assert run.returncode == 0, run.stderr[-3000:]
    for t in TARGETS:
        assert (tmp_path / t).is_file(), t
    meta = (tmp_path / "resources/profiles/llama70b/l4/meta.json").read_text()
    assert '"source": "artifact"' in meta and '"gpu": "L4"' in meta
    again = _snakemake(repo, tmp_path, artifact_dir, "-n", *TARGETS)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_snakemake_missing_artifact_fails_cleanly(repo, tmp_path):
    missing = tmp_path / "no-artifact"
    work = tmp_path / "work"
    run = _snakemake(repo, work, missing, TARGETS[0])
    assert run.returncode != 0
    assert not (work / TARGETS[0]).exists() and not (work / TARGETS[1]).exists()
    log = (work / "logs" / "import_traces.log").read_text().strip().splitlines()
    assert log[0].startswith("# rule import_traces: ") and log[1:] == [
        f"error: {missing}: artifact directory not found"
    ]


@pytest.mark.slow
def test_snakemake_uses_cloned_artifact_copy(repo, artifact_dir, tmp_path):
    """No HELIX_ARTIFACT_DIR and no artifact.path: the rules read resources/helix-artifact (the clone)."""
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "helix-artifact").symlink_to(artifact_dir)
    env = {k: v for k, v in os.environ.items() if k != "HELIX_ARTIFACT_DIR"}
    run = run_snakemake(
        tmp_path,
        "resources/profiles/llama70b/t4/decode.csv",
        config=repo / "config" / "test" / "config.yaml",
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fetch_artifact" not in run.stdout + run.stderr  # the copy is there: nothing cloned
    meta = (tmp_path / "resources/profiles/llama70b/t4/meta.json").read_text()
    assert "simulator/model_manager/llama2_70b/t4/decode_bs2time.csv" in meta
