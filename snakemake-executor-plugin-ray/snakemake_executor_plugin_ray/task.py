"""What runs inside the Ray task: the job's Snakemake command, in the workflow's directory.

This module only uses the standard library and Ray; the executor ships it to the workers by value,
so worker nodes need Ray (and what the job itself needs) but not this plugin.

Process tree on the worker node::

    Ray worker (this function)
      guardian  (python -c GUARDIAN; parent-death signal = SIGTERM)
        job     (sh -c "<snakemake job command>", its own session / process group)

Cancelling the Ray task raises KeyboardInterrupt here, and we SIGTERM the guardian. If the Ray
worker is killed outright (force cancel, driver gone), the kernel sends the guardian SIGTERM.
Either way the guardian signals the job's whole process group, waits a grace period for Snakemake
to clean up, then SIGKILLs what is left, so no rule keeps running after its task is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import deque
from typing import Any

GUARDIAN = r"""
import ctypes, os, signal, subprocess, sys, time
grace, parent, cmd = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() != parent:  # the worker died before prctl took effect
    sys.exit(143)
job = subprocess.Popen(cmd, shell=True, start_new_session=True)

def group_alive(pgid):
    # Live (non-zombie) members of the process group. Exited members can linger as zombies
    # for a while (re-parented to a subreaper), and killpg(pgid, 0) would count those.
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = None
    if pids is None:
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            return True
    return False

def stop(signum, frame):
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        job.poll()
        if not group_alive(job.pid):
            break
        time.sleep(0.1)
    else:
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print(f"[snakemake-executor-plugin-ray] job cancelled (signal {signum})", flush=True)
    os._exit(128 + signum)

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, stop)
code = job.wait()
sys.exit(code if code >= 0 else 128 - code)
"""


def run_job(
    command: str,
    workdir: str,
    log_path: str,
    env: dict[str, str],
    grace_seconds: float = 10.0,
    tail_lines: int = 40,
) -> dict[str, Any]:
    """Run one Snakemake job command; return its exit code, where it ran and its output's tail."""
    import ray

    ctx = ray.get_runtime_context()
    info: dict[str, Any] = {
        "node_id": ctx.get_node_id(),
        "hostname": socket.gethostname(),
        "task_id": ctx.get_task_id(),
        "assigned": ctx.get_assigned_resources(),
        "log": log_path,
        "returncode": None,
        "error": None,
        "tail": "",
    }
    if not os.path.isdir(workdir):
        info["error"] = (
            f"the workflow directory {workdir} does not exist on node {info['hostname']}: "
            "the Ray executor needs the workflow directory on a filesystem shared by all nodes"
        )
        return info

    job_env = dict(os.environ)
    job_env.update(env)
    job_env.update(
        SNAKEMAKE_RAY_NODE_ID=info["node_id"],
        SNAKEMAKE_RAY_TASK_ID=info["task_id"] or "",
        SNAKEMAKE_RAY_HOSTNAME=info["hostname"],
        SNAKEMAKE_RAY_RESOURCES=_json(info["assigned"]),
    )
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "ab") as log:
        guardian = subprocess.Popen(
            [sys.executable, "-c", GUARDIAN, str(grace_seconds), str(os.getpid()), command],
            cwd=workdir,
            env=job_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                try:
                    info["returncode"] = guardian.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    continue
        except BaseException:  # ray.cancel raises KeyboardInterrupt inside the task
            guardian.send_signal(signal.SIGTERM)
            try:
                guardian.wait(timeout=grace_seconds + 5)
            except subprocess.TimeoutExpired:
                guardian.kill()
            raise
    info["tail"] = tail(log_path, tail_lines)
    return info


def tail(path: str, lines: int) -> str:
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return ""


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
