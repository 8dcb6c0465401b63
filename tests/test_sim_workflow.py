"""Real Snakemake runs of the simulate rule on a copy of the paper config with a small run table.

Contract: a part run and its aggregate build, the aggregate equals the part (one part), a second run
has nothing to do, editing one run's workload reruns that run only, and a run that cannot be
simulated (70B on 20-layer A100 nodes without the force flag) fails with one line and no output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from snakemake_cli import run_snakemake

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
RUN = "results/sims/single24-t4/llama70b/paper-separate/random/online/metrics.json"
AGG = "results/sims/single24/llama70b/paper-separate/random/online/metrics.json"
BAD = "results/sims/single24/llama70b/paper-separate/random/offline/metrics.json"


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *args, cores=2, timeout=600)


def _config(workdir: Path, rate: float) -> None:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["experiments"] = {
        "single_cluster": {
            "section": "6.3",
            "simulations": [
                {
                    "cluster": "single24",
                    "model": "llama70b",
                    "method": "paper-separate",
                    "scheduler": "random",
                    "mode": "online",
                    "parts": {"t4": {"mode": "online", "rate_tps": rate, "force": True}},
                },
                {
                    "cluster": "single24",
                    "model": "llama70b",
                    "method": "paper-separate",
                    "scheduler": "random",
                    "mode": "offline",
                    "parts": {"a100": {"mode": "offline", "n_init": 2}},
                },
            ],
        }
    }
    cfg.pop("prototypes", None)
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_simulate_rule(tmp_path, artifact_dir):
    _config(tmp_path, 10)
    r = _snakemake(tmp_path, AGG)
    assert r.returncode == 0, r.stderr[-3000:]
    part = json.loads((tmp_path / RUN).read_text())
    agg = json.loads((tmp_path / AGG).read_text())
    assert part["n_decodes"] == 5116 and part["n_prompts"] == 18
    assert agg["decode_throughput_tps"] == pytest.approx(part["decode_throughput_tps"])
    assert agg["prompt_latency_s"] == part["prompt_latency_s"]
    for name in ("requests.parquet", "congestion.csv", "iterations.parquet", "meta.json"):
        assert (tmp_path / RUN).with_name(name).is_file()

    r = _snakemake(tmp_path, AGG, "--dry-run")
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr

    _config(tmp_path, 12)  # one run's workload changes: that run and its aggregate rerun
    r = _snakemake(tmp_path, AGG, "--dry-run", "--rerun-triggers", "params")
    out = r.stdout + r.stderr
    assert "single24-t4/llama70b/paper-separate/random/online" in out and "import_traces" not in out

    r = _snakemake(tmp_path, BAD)
    assert r.returncode != 0
    assert "exceed K=12" in r.stdout + r.stderr
    assert (
        not (tmp_path / BAD).exists() and not (tmp_path / BAD.replace("single24/", "single24-a100/")).exists()
    )
