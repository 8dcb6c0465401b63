"""An interrupted job is never cached as done (issue 15, case 1), tested with real Snakemake runs
and real signals sent to the job's own process.

Under Snakemake a SIGTERM/SIGINT to the placement job fails it (exit 128 + signal, no outputs),
keeps the incumbent in ``.incumbent/`` and the rerun starts from it; ``helix place`` by hand keeps
the best layout (tests/test_placement.py::test_sigterm_writes_best_layout_and_exits_cleanly).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ctrl_c import sigint_as_in_a_terminal
from snakemake_cli import snakemake_cmd

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
PLACE = "results/placements/place12/llama70b/helix"


def _snakemake(workdir: Path, *args: str) -> list[str]:
    return snakemake_cmd(workdir, *args, config=workdir / "config.yaml")


def _write_config(workdir: Path, **preset) -> None:
    cfg = yaml.safe_load((REPO / "config/test/config.yaml").read_text())
    cfg["models"]["tiny-llama"]["config_json"] = str(REPO / "config/test/tiny-llama.json")
    cfg["experiments"] = {}
    cfg["placement_presets"]["default"].update(preset)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _job_pid(workdir: Path, script: str, timeout: float = 240) -> int:
    """The pid of the Python process running ``script`` for this workdir (the job, not Snakemake),
    once it has installed its SIGTERM handler (so the solve has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                argv = (d / "cmdline").read_bytes().split(b"\0")
                if not any(a.endswith(script.encode()) for a in argv) or b"python" not in argv[0]:
                    continue
                if Path(os.readlink(d / "cwd")) != workdir:
                    continue
                caught = next(
                    line for line in (d / "status").read_text().splitlines() if line.startswith("SigCgt:")
                )
            except (OSError, StopIteration):
                continue
            if int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)):
                return int(d.name)
        time.sleep(0.2)
    raise AssertionError(f"no job running {script} in {workdir}")


@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_interrupted_placement_fails_and_the_rerun_resumes(artifact_dir, tmp_path, signum):
    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact_dir))
    target = f"{PLACE}/layout.yaml"
    # a long wall-clock solve, interrupted after a few seconds of search
    _write_config(tmp_path, budget="time", time_limit_s=300, backend="heuristic")
    proc = subprocess.Popen(
        _snakemake(tmp_path, target), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        pid = _job_pid(tmp_path, "placement.py")
        time.sleep(3)
        os.kill(pid, signum)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0, out[-2000:]
    log = (tmp_path / "logs/placement/place12/llama70b/helix.log").read_text()
    assert "interrupted by signal 15: no output written" in log, log
    # nothing was cached as done: no output, and Snakemake still has the job to do
    for name in ("layout.yaml", "flow.json", "solver_trace.csv", "milp_size.json", "meta.json"):
        assert not (tmp_path / PLACE / name).exists(), name
    dry = subprocess.run(
        _snakemake(tmp_path, target, "-n"), env=env, capture_output=True, text=True, timeout=300
    )
    assert "placement_helix" in dry.stdout and "Nothing to be done" not in dry.stdout + dry.stderr
    # the incumbent is kept where the rerun's warm start finds it
    saved = json.loads((tmp_path / PLACE / ".incumbent/resume.json").read_text())
    assert saved["objective"] > 0 and saved["method"] == "helix"
    _write_config(tmp_path, max_evaluations=200, lane_evaluations=100, milp_max_nodes=0)
    rerun = subprocess.run(_snakemake(tmp_path, target), env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    flow = json.loads((tmp_path / PLACE / "flow.json").read_text())
    assert flow["notes"]["resumed_from"].endswith(".incumbent/layout.yaml")
    assert flow["max_flow"] >= saved["objective"] - 1e-6
    trace = (tmp_path / PLACE / "solver_trace.csv").read_text().splitlines()
    assert trace[1].endswith("warm:file") and float(trace[1].split(",")[1]) == pytest.approx(
        saved["objective"], abs=1e-5
    )
    assert not (tmp_path / PLACE / ".incumbent").exists()


def _job_started(workdir: Path, script: str, timeout: float = 240) -> int:
    """The pid of the Python process running ``script`` for this workdir, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in Path("/proc").iterdir():
            try:
                argv = (d / "cmdline").read_bytes().split(b"\0") if d.name.isdigit() else []
                if (
                    any(a.endswith(script.encode()) for a in argv)
                    and b"python" in argv[0]
                    and Path(os.readlink(d / "cwd")) == workdir
                ):
                    return int(d.name)
            except OSError:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no job running {script} in {workdir}")


def test_interrupted_simulation_fails_without_outputs(artifact_dir, tmp_path):
    """SIGINT to a running simulate job (Ctrl-C on the job, a scheduler's cancel): the job fails,
    no output is left, and Snakemake still has it to do."""
    run = "results/sims/single24/llama70b/paper-helix/helix/offline"
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["experiments"] = {
        "one": {
            "section": "6.3",
            "simulations": [
                {
                    "cluster": "single24",
                    "model": "llama70b",
                    "method": "paper-helix",
                    "scheduler": "helix",
                    "mode": "offline",
                    # long enough that the compiled loop is still running when the signal lands
                    "workload": {"mode": "offline", "duration_s": 200000},
                }
            ],
        }
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact_dir))
    target = f"{run}/metrics.json"
    with sigint_as_in_a_terminal():  # else a pytest started with `&` passes SIGINT on as ignored
        proc = subprocess.Popen(
            _snakemake(tmp_path, target), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    try:
        pid = _job_started(tmp_path, "simulate.py")
        time.sleep(4)
        os.kill(pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode != 0, out[-2000:]
    assert "Error in rule simulate" in out
    for name in ("metrics.json", "requests.parquet", "congestion.csv", "iterations.parquet", "meta.json"):
        assert not (tmp_path / run / name).exists(), name
    dry = subprocess.run(
        _snakemake(tmp_path, target, "-n"), env=env, capture_output=True, text=True, timeout=300
    )
    assert "simulate" in dry.stdout and "Nothing to be done" not in dry.stdout + dry.stderr


def _procs_in(workdir: Path) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and Path(os.readlink(d / "cwd")) == workdir:
                out.append(int(d.name))
        except OSError:
            continue
    return out


def test_interrupted_prototype_fails_without_outputs_or_workers(artifact_dir, tmp_path):
    """SIGTERM to a serving prototype job (host and workers running): the job fails, no output is
    left, its workers are gone, and Snakemake still has it to do."""
    pytest.importorskip("torch")
    run = "results/proto/tiny4/tiny-llama/manual/helix/offline"
    cfg = yaml.safe_load((REPO / "config/test/config.yaml").read_text())
    cfg["models"]["tiny-llama"]["config_json"] = str(REPO / "config/test/tiny-llama.json")
    proto = cfg["experiments"]["proto_test"]["prototypes"][0]
    proto.update(layout=str(REPO / proto["layout"]), duration_s=120)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact_dir))
    target = f"{run}/metrics.json"
    proc = subprocess.Popen(
        _snakemake(tmp_path, target), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        pid = _job_pid(tmp_path, "prototype.py")  # its SIGTERM handler is set once the workers are launched
        time.sleep(2)
        os.kill(pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode != 0, out[-2000:]
    assert "Error in rule prototype" in out
    for name in ("events.csv", "routes.csv", "tokens.csv", "metrics.json"):
        assert not (tmp_path / run / name).exists(), name
    deadline = time.monotonic() + 30
    while _procs_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _procs_in(tmp_path) == [], "worker processes left behind"
    dry = subprocess.run(
        _snakemake(tmp_path, target, "-n"), env=env, capture_output=True, text=True, timeout=300
    )
    assert "prototype" in dry.stdout and "Nothing to be done" not in dry.stdout + dry.stderr
