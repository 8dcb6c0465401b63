"""End-to-end tests of snakemake-executor-plugin-ray on a real local Ray cluster.

The cluster is a head node with one fake T4 GPU plus a second raylet (a worker node) with one fake
L4 GPU, both started with `ray start` exactly as docs/ray.md tells users to, on ports of their own
and in a temp dir of their own, so a cluster someone else runs on this machine is never touched.
Each test runs `snakemake --executor ray` on the small workflow next to this file.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ctrl_c import sigint_as_in_a_terminal

pytest.importorskip("ray", reason="the ray extra is not installed")

pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKFLOW = HERE / "workflow" / "Snakefile"
BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    # RAY_AUTH_MODE pinned: Ray >= 2.5x turns token auth on for `ray start --head` whenever
    # ~/.ray/auth_token exists (any local ray.init() writes one), and then our worker, which
    # does not send the token, could not join.
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        RAY_AUTH_MODE="disabled",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def _port_block(size: int) -> int:
    """First port of `size` consecutive ports that are free right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - size)
        try:
            socks = []
            for port in range(base, base + size):
                s = socket.socket()
                socks.append(s)
                s.bind(("", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def _ray_start(args: list[str], temp_dir: str, log: Path, ports: int) -> subprocess.Popen:
    """`ray start --block` in the background; every port it opens is in [ports, ports + 100)."""
    cmd = [
        RAY, "start", "--block", *args,
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
        f"--node-manager-port={ports + 1}",
        f"--object-manager-port={ports + 2}",
        f"--runtime-env-agent-port={ports + 3}",
        f"--dashboard-agent-listen-port={ports + 4}",
        f"--dashboard-agent-grpc-port={ports + 5}",
        f"--metrics-export-port={ports + 6}",
        f"--min-worker-port={ports + 20}",
        f"--max-worker-port={ports + 99}",
    ]  # fmt: skip
    # its own session: a Ctrl-C meant for pytest must not reach the cluster. SIGINT as in a terminal:
    # Ray's cancel interrupts a task with KeyboardInterrupt, which a worker that inherited SIGINT as
    # ignored never raises (the plugin then force-kills after the grace period instead).
    with open(log, "w") as out, sigint_as_in_a_terminal():
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    deadline = time.monotonic() + 120
    while "Ray runtime started" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            raise RuntimeError(f"ray start failed:\n{log.read_text()}")
        time.sleep(0.3)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    """`ray start --block` stops every process it started when it gets SIGTERM."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _driver(address: str, code: str) -> object:
    """Run `code` (which prints one JSON value) in a short-lived Ray driver on the cluster."""
    script = (
        "import json, ray\n"
        f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n" + code
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # A short temp dir: Ray puts unix sockets under it and socket paths are limited to 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="rayt", dir="/tmp")
    logs = tmp_path_factory.mktemp("ray-start")
    head_port = _port_block(2)
    head_ports, worker_ports = _port_block(100), _port_block(100)
    address = f"127.0.0.1:{head_port}"
    procs = []
    try:
        procs.append(
            _ray_start(
                [
                    "--head",
                    f"--port={head_port}",
                    f"--dashboard-port={head_port + 1}",
                    "--include-dashboard=false",
                    "--num-cpus=2",
                    "--num-gpus=1",
                    '--resources={"gpu_model:T4": 1}',
                ],
                temp_dir,
                logs / "head.log",
                head_ports,
            )
        )
        procs.append(
            _ray_start(
                [f"--address={address}", "--num-cpus=2", "--num-gpus=1", '--resources={"gpu_model:L4": 1}'],
                temp_dir,
                logs / "worker.log",
                worker_ports,
            )
        )
        nodes = _driver(
            address,
            "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))",
        )
        assert len(nodes) == 2, nodes
        yield {"address": address, "nodes": nodes}
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _workdir(tmp_path: Path) -> Path:
    shutil.copy(WORKFLOW, tmp_path / "Snakefile")
    return tmp_path


def _snakemake(workdir: Path, *args: str, timeout: float = 150, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--nocolor", *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(**env),
        timeout=timeout,
    )


def _ray_run(workdir: Path, cluster, *targets: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return _snakemake(
        workdir,
        "--executor",
        "ray",
        "--jobs",
        "4",
        "--ray-address",
        cluster["address"],
        *targets,
        timeout=timeout,
    )


def test_plugin_is_discovered_from_a_regular_install():
    code = (
        "import json, snakemake_executor_plugin_ray as m\n"
        "from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry\n"
        "print(json.dumps([sorted(ExecutorPluginRegistry().plugins), m.__file__]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert out.returncode == 0, (
        f"{out.stderr}\nInstall the plugin (not editable): pip install ./snakemake-executor-plugin-ray"
    )
    plugins, module_file = json.loads(out.stdout)
    assert "ray" in plugins
    assert "site-packages" in module_file, f"imported from {module_file}, not from the installed copy"
    help_text = subprocess.run(
        [sys.executable, "-m", "snakemake", "--help"], capture_output=True, text=True, env=_env()
    ).stdout
    assert "--ray-address" in help_text and "--ray-local-cpu-rules" in help_text


def test_workflow_profile_dry_run(tmp_path):
    workdir = _workdir(tmp_path)
    out = _snakemake(
        workdir, "--workflow-profile", str(REPO / "profiles" / "ray"), "-n", "results/gpu/L4.json"
    )
    assert out.returncode == 0, out.stdout
    assert "rule on_gpu:" in out.stdout and "gpu_model=L4" in out.stdout
    assert "This was a dry-run" in out.stdout


def test_gpu_jobs_land_on_nodes_with_their_gpu_model_and_rerun_is_a_noop(cluster, tmp_path):
    workdir = _workdir(tmp_path)
    out = _ray_run(workdir, cluster)
    assert out.returncode == 0, out.stdout
    for model in ("L4", "T4"):
        seen = json.loads((workdir / f"results/gpu/{model}.json").read_text())
        node = cluster["nodes"][seen["node_id"]]
        assert node.get(f"gpu_model:{model}", 0) >= 1, (model, node)
        assert seen["resources"].get(f"gpu_model:{model}") == 1.0
        assert seen["resources"].get("GPU") == 1.0 and seen["resources"].get("memory")
        assert seen["cuda"] != ""  # Ray hands the task its GPU through CUDA_VISIBLE_DEVICES
    assert "cpu-ok node=" in (workdir / "results/cpu.txt").read_text()
    assert (workdir / "results/cpu.txt").read_text().split("node=")[1].strip() in cluster["nodes"]

    again = _ray_run(workdir, cluster)
    assert again.returncode == 0, again.stdout
    assert "Nothing to be done" in again.stdout
    assert "Ray task" not in again.stdout
    assert "cannot schedule new futures" not in again.stdout


def test_unknown_gpu_model_fails_fast_with_a_clear_message(cluster, tmp_path):
    start = time.monotonic()
    out = _ray_run(_workdir(tmp_path), cluster, "results/gpu/H100.json", timeout=90)
    assert out.returncode != 0
    assert "no node in the Ray cluster has GPU model 'H100'" in out.stdout, out.stdout
    assert "GPU models in the cluster: L4 (1 node), T4 (1 node)" in out.stdout
    assert "Ray task" not in out.stdout  # refused before submission, not left pending in Ray
    assert time.monotonic() - start < 60


def test_failing_job_fails_the_run_and_shows_its_log_tail(cluster, tmp_path):
    out = _ray_run(_workdir(tmp_path), cluster, "results/failing.txt")
    assert out.returncode != 0
    assert "Error in rule failing" in out.stdout
    assert "Last lines of the job output" in out.stdout
    assert "stdout-marker-91c2" in out.stdout  # the task's own output
    assert "rule-log-marker-7f3a" in out.stdout  # the rule's log: file
    assert not (tmp_path / "results/failing.txt").exists()


def test_sigint_cancels_the_running_ray_task(cluster, tmp_path):
    workdir = _workdir(tmp_path)
    args = [sys.executable, "-m", "snakemake", "--nocolor", "--executor", "ray", "--jobs", "2"]
    args += ["--ray-address", cluster["address"], "--ray-cancel-grace-seconds", "5", "results/slow.txt"]
    log = tmp_path / "snakemake.out"
    with open(log, "w") as out, sigint_as_in_a_terminal():
        proc = subprocess.Popen(args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=_env())
    try:
        job_pid = _wait_for_pid(workdir / "slow.pid", proc, log)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"snakemake still running 60 s after SIGINT:\n{log.read_text()}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert proc.returncode != 0
    assert "Ray executor: cancelling 1 Ray task(s)" in text, text

    # The rule's shell is gone, its GPU is free again, and the rest of the rule never ran.
    deadline = time.monotonic() + 30
    while _alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _alive(job_pid), "the job's shell outlived the cancelled Ray task"
    free = _driver(cluster["address"], "print(json.dumps(ray.available_resources()))")
    assert free.get("GPU") == 2.0 and free.get("gpu_model:L4") == 1.0, free
    time.sleep(2)
    assert not (workdir / "slow.marker").exists()
    assert not (workdir / "results/slow.txt").exists()


def test_killed_snakemake_takes_its_ray_jobs_along(cluster, tmp_path):
    """SIGKILL leaves no chance to cancel; Ray ends the dead driver's tasks and the plugin's guardian
    (parent-death signal) takes the job's processes down with them."""
    workdir = _workdir(tmp_path)
    args = [sys.executable, "-m", "snakemake", "--nocolor", "--executor", "ray", "--jobs", "2"]
    args += ["--ray-address", cluster["address"], "--ray-cancel-grace-seconds", "5", "results/slow.txt"]
    proc = subprocess.Popen(
        args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=_env()
    )
    try:
        job_pid = _wait_for_pid(workdir / "slow.pid", proc)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 60
    while _alive(job_pid) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _alive(job_pid), "the job's shell outlived its dead driver"
    assert not (workdir / "slow.marker").exists()


def test_profile_runs_cpu_rules_locally_and_gpu_rules_on_ray(cluster, tmp_path):
    workdir = _workdir(tmp_path)
    out = _snakemake(
        workdir, "--workflow-profile", str(REPO / "profiles" / "ray"), RAY_ADDRESS=cluster["address"]
    )
    assert out.returncode == 0, out.stdout
    assert "localrule cpu:" in out.stdout
    assert (workdir / "results/cpu.txt").read_text().strip() == "cpu-ok node=local"
    for model in ("L4", "T4"):
        seen = json.loads((workdir / f"results/gpu/{model}.json").read_text())
        assert cluster["nodes"][seen["node_id"]].get(f"gpu_model:{model}", 0) >= 1


def _wait_for_pid(pid_file: Path, proc: subprocess.Popen, log: Path | None = None) -> int:
    """The pid the slow rule's shell writes once it runs."""
    deadline = time.monotonic() + 120
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert proc.poll() is None, log.read_text() if log else proc.returncode
        assert time.monotonic() < deadline, log.read_text() if log else "slow job never started"
        time.sleep(0.3)
    return int(pid_file.read_text())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False
