"""What runs inside the Ray task: the job's Snakemake command, in the workflow's directory.

This module only uses the standard library and Ray; the executor ships it to the workers by value,
so worker nodes need Ray (and what the job itself needs) but not this plugin.

Process tree on the worker node::

    Ray worker (run_job)          holds the write end of the "alive" pipe
    guardian (detached)           python -c GUARDIAN, re-parented away from the worker
      job                         sh -c "<snakemake job command>", its own process group

The guardian is detached because a Ray worker that exits SIGKILLs its direct children, which
would leave the job's processes running as orphans. The guardian watches the job and the alive
pipe: "stop" on the pipe (the task was cancelled: Ray raised KeyboardInterrupt in run_job) or
end-of-file (the worker died: force cancel, driver gone, node shutting down) makes it SIGTERM the
job's process group, wait a grace period for Snakemake to clean up, then SIGKILL what is left.
Either way it reports the job's exit code back on the status pipe.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
from collections import deque
from typing import Any

GUARDIAN = r"""
import os, select, signal, subprocess, sys, time

grace, cmd = float(sys.argv[1]), sys.argv[2]
alive_fd, status_fd = int(sys.argv[3]), int(sys.argv[4])
if os.fork() > 0:  # detach: the worker reaps this parent at once, the child carries on
    os._exit(0)
os.setsid()
signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping is the alive pipe's job
job = subprocess.Popen(cmd, shell=True, start_new_session=True)  # close_fds: pipes stay here


def group_alive(pgid):
    # Live (non-zombie) members of the job's process group; exited members can linger as
    # zombies for a while, and killpg(pgid, 0) would count those.
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
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


def stop(reason):
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
    job.wait()
    print(f"[snakemake-executor-plugin-ray] job stopped: {reason}", flush=True)


try:
    job_fd = os.pidfd_open(job.pid)
except (AttributeError, OSError):
    job_fd = None
while job.poll() is None:
    ready, _, _ = select.select([alive_fd] + ([job_fd] if job_fd is not None else []), [], [], 0.5)
    if alive_fd in ready:
        stop("Ray task cancelled" if os.read(alive_fd, 16) else "Ray worker exited")
        break
code = job.returncode
try:
    os.write(status_fd, f"{code if code >= 0 else 128 - code}\n".encode())
except OSError:  # the worker is gone; nobody is waiting for the code
    pass
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
        SNAKEMAKE_RAY_RESOURCES=json.dumps(info["assigned"], sort_keys=True),
    )
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    alive_r, alive_w = os.pipe()
    status_r, status_w = os.pipe()
    try:
        with open(log_path, "ab") as log:
            launcher = subprocess.Popen(
                [sys.executable, "-c", GUARDIAN, str(grace_seconds), command, str(alive_r), str(status_w)],
                cwd=workdir,
                env=job_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(alive_r, status_w),
            )
            launcher.wait()  # returns once the guardian has detached
        os.close(alive_r)
        os.close(status_w)
        alive_r = status_w = -1
        try:
            status = _read_status(status_r, timeout=None)
        except BaseException:  # ray.cancel raises KeyboardInterrupt inside the task
            try:
                os.write(alive_w, b"stop")
                _read_status(status_r, timeout=grace_seconds + 5)
            except OSError:
                pass
            raise
    finally:
        for fd in (alive_r, alive_w, status_r, status_w):
            if fd >= 0:
                os.close(fd)
    if status is None:
        info["error"] = "the job's guardian process ended without reporting an exit code"
    info["returncode"] = status
    info["tail"] = tail(log_path, tail_lines)
    return info


def _read_status(fd: int, timeout: float | None) -> int | None:
    """The exit code the guardian writes, or None if it went away without writing one."""
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
        ready, _, _ = select.select([fd], [], [], wait)  # short waits keep KeyboardInterrupt prompt
        if ready:
            chunk = os.read(fd, 64)
            if not chunk:
                break
            data += chunk
        elif deadline is not None and time.monotonic() >= deadline:
            break
    try:
        return int(data.strip())
    except ValueError:
        return None


def tail(path: str, lines: int) -> str:
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return ""
