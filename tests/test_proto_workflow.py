"""A real `snakemake --cores 2` run of the test config's prototype target (and its inputs)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snakemake_cli import run_snakemake

pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
RUN = "results/proto/tiny4/tiny-llama/manual/helix/offline"


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *args, config=workdir / "config.yaml", cores=2, timeout=600)


@pytest.fixture
def workdir(tmp_path, artifact_dir) -> Path:
    data = yaml.safe_load((REPO / "config/test/config.yaml").read_text())
    data["models"]["tiny-llama"]["config_json"] = str(REPO / data["models"]["tiny-llama"]["config_json"])
    for exp in data["experiments"].values():
        for run in exp.get("prototypes", []):
            if run.get("layout"):
                run["layout"] = str(REPO / run["layout"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.slow
def test_snakemake_prototype_target(workdir):
    run = _snakemake(workdir, "prototypes")
    assert run.returncode == 0, run.stderr[-3000:]
    out = workdir / RUN
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["decode_throughput_tps"] > 0 and metrics["failed_requests"] == 0
    assert all(math.isfinite(v) for v in metrics["decode_latency_s"].values())
    header = (out / "events.csv").read_text().splitlines()[0]
    assert header == "time,request_id,direction,phase,context_len,tokens"
    assert (
        (out / "routes.csv")
        .read_text()
        .startswith("request_id,input_len,output_len,nodes,machines,starts,ends,status")
    )
    assert (
        "decode throughput" in (workdir / "logs/proto/tiny4/tiny-llama/manual/helix/offline.log").read_text()
    )
    # the same metrics from the CLI parser on the rule's events.csv
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "helix.cli",
            "parse-log",
            str(out / "events.csv"),
            "--warmup-s",
            "2",
            "--end-s",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["decode_throughput_tps"] == pytest.approx(metrics["decode_throughput_tps"])
    dry = _snakemake(workdir, "-n", "prototypes")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (
        dry.stdout[-3000:] + dry.stderr[-3000:]
    )
