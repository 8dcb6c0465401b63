"""No simulation result depends on Python's hash seed or any other process state.

Three runs that once differed or could differ (networkx max flow on string vertex names under the
helix scheduler, swarm's clock-driven feedback, a per-type 30B part) go through the real CLI in
fresh interpreters under three ``PYTHONHASHSEED`` values; their ``metrics.json`` must be
byte-identical, and so must the per-machine congestion table and the per-query routes. Short
measured spans keep it cheap while every case still routes, batches and measures hundreds of
requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SEEDS = ("0", "1", "2")
# the authors' profile tables (`--profiles artifact`): no workflow run needed before this test
CASES = {
    "geo24-petals-helix-offline": [
        "--cluster",
        "geo24",
        "--model",
        "llama70b",
        "--method",
        "paper-petals",
        "--scheduler",
        "helix",
        "--mode",
        "offline",
        "--duration",
        "60",
        "--profiles",
        "artifact",
    ],
    "hetero42-swarm-online": [
        "--cluster",
        "hetero42",
        "--model",
        "llama70b",
        "--method",
        "paper-swarm",
        "--scheduler",
        "swarm",
        "--mode",
        "online",
        "--duration",
        "30",
        "--profiles",
        "artifact",
    ],
    "single24-t4-30b-helix-online": [
        "--cluster",
        "single24-t4",
        "--model",
        "llama30b",
        "--method",
        "paper-helix",
        "--scheduler",
        "helix",
        "--mode",
        "online",
        "--duration",
        "60",
        "--profiles",
        "artifact",
    ],
}


def _flat(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flat(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def first_difference(a: dict, b: dict) -> str | None:
    """The first field (in file order) whose value differs, as 'field: a != b'."""
    fa, fb = list(_flat(a)), list(_flat(b))
    for (ka, va), (kb, vb) in zip(fa, fb):
        if ka != kb:
            return f"field order: {ka} vs {kb}"
        if va != vb:
            return f"{ka}: {va!r} != {vb!r}"
    if len(fa) != len(fb):
        return f"field count: {len(fa)} vs {len(fb)}"
    return None


def test_first_difference_names_the_field():
    assert first_difference({"a": 1, "b": {"c": [1, 2]}}, {"a": 1, "b": {"c": [1, 3]}}) == "b.c[1]: 2 != 3"
    assert first_difference({"a": 1}, {"a": 1}) is None


@pytest.mark.slow
def test_results_are_byte_identical_under_three_hash_seeds(tmp_path, artifact_dir):
    driver = (
        "import sys, json\nfrom helix.cli import main\nfor out, args in json.loads(sys.argv[1]):\n"
        "    assert main(['simulate', *args, '--out', out, '--quiet']) == 0\n"
    )
    procs = {}
    for seed in SEEDS:
        jobs = [(str(tmp_path / seed / name), args) for name, args in CASES.items()]
        env = {
            **os.environ,
            "PYTHONHASHSEED": seed,
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        procs[seed] = subprocess.Popen(
            [sys.executable, "-c", driver, json.dumps(jobs)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    for seed, p in procs.items():
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, f"PYTHONHASHSEED={seed}: {out[-2000:]}"
    base = SEEDS[0]
    for name in CASES:
        ref = tmp_path / base / name
        ref_metrics = (ref / "metrics.json").read_bytes()
        assert json.loads(ref_metrics)["n_decodes"] > 100, name
        for seed in SEEDS[1:]:
            other = tmp_path / seed / name
            got = (other / "metrics.json").read_bytes()
            if got != ref_metrics:
                diff = first_difference(json.loads(ref_metrics), json.loads(got))
                pytest.fail(
                    f"{name}: metrics.json differs between PYTHONHASHSEED={base} and {seed}: "
                    f"first differing field {diff}"
                )
            assert (other / "congestion.csv").read_bytes() == (ref / "congestion.csv").read_bytes(), (
                f"{name}: congestion.csv, seed {seed}"
            )
            routes = [pd.read_parquet(d / "requests.parquet")["route"].tolist() for d in (ref, other)]
            assert routes[0] == routes[1], f"{name}: routes differ under seed {seed}"
