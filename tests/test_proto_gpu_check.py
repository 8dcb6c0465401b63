"""benchmarks/gpu_check.sh end to end with ``--device cpu`` (tiny shapes, seconds): the script the GPU
machine runs (profiles, analytic comparison, prototype with 70B-shaped layers) works from a clean
checkout with nothing but the repo, torch and the project's dependencies. No GPU was available to
run it on a GPU in CI; on one, ``bash benchmarks/gpu_check.sh`` is the whole check."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_script_runs_on_cpu(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run(
        ["bash", str(REPO / "benchmarks/gpu_check.sh"), "--device", "cpu", "--out-root", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    root = tmp_path / "cpu"
    for model in ("llama70b", "llama30b"):
        for f in ("prompt.csv", "decode.csv", "meta.json"):
            assert (root / model / f).is_file(), (model, f)
        assert json.loads((root / model / "meta.json").read_text())["source"] == "measured"
    with open(root / "analytic_vs_measured.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["model"] for r in rows} == {"llama70b", "llama30b"} and {r["phase"] for r in rows} == {
        "prompt",
        "decode",
    }
    assert all(math.isfinite(float(r["measured_over_analytic"])) and float(r["measured_s"]) > 0 for r in rows)
    res = json.loads((root / "prototype.json").read_text())
    assert (
        res["prototype_decode_tps"] > 0
        and res["single_process_decode_tps"] > 0
        and res["layers_only_decode_tps"] > 0
    )
    assert "measured/analytic median" in r.stdout and "prototype/layers" in r.stdout
