"""Start the workers of a run: as local processes (default, CI) or as Ray tasks (a GPU cluster).

Both launchers give the host the same two things: ``alive()`` -> ids of workers whose process has
ended, and ``shutdown()`` that stops every worker (politely first, then by force). Ray is only a
remote launcher, as in the paper (docs/design/prototype.md s1): it carries no data. Placement machines are
mapped onto Ray nodes by GPU type through the custom resource ``gpu_model:<TYPE>`` (the naming the
Ray executor plugin uses), each worker pinned to one node, and the system config is rewritten with
those nodes' addresses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from helix.errors import HelixInputError
from helix.prototype.sysconfig import SystemConfig


def worker_argv(
    cfg_path: str, nid: int, model_config: str, model_name: str, spec, checkpoint: str | None = None
) -> list[str]:
    argv = [
        "--system-config",
        cfg_path,
        "--node-id",
        str(nid),
        "--model-config",
        model_config,
        "--model-name",
        model_name,
        "--engine",
        spec.engine,
        "--scheduler",
        spec.scheduler,
        "--device",
        spec.device,
        "--dtype",
        spec.dtype,
        "--seed",
        str(spec.seed),
        "--threads",
        str(spec.threads),
    ]
    if spec.decode_batch:
        argv += ["--decode-batch", str(spec.decode_batch)]
    argv += ["--prompt-layers", str(spec.prompt_layers)]
    if not spec.regroup:
        argv += ["--no-regroup"]
    if spec.fit_prompts:
        argv += ["--fit-prompts"]
    if checkpoint:  # read on the worker's machine: the same path must exist there (shared or copied)
        argv += ["--checkpoint", str(Path(checkpoint).resolve())]
    return argv


def worker_env(spec) -> dict[str, str]:
    """Environment a worker process needs before torch loads: its thread count and, if set, the
    OpenMP wait policy (read once, when torch's OpenMP runtime loads; nothing can change it later)."""
    env = {"OMP_NUM_THREADS": str(spec.threads), "MKL_NUM_THREADS": str(spec.threads)}
    if spec.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = spec.omp_wait_policy.upper()
    return env


class _Forked:
    """A worker that ``helix.prototype.forkserver`` forked: the part of ``subprocess.Popen`` the
    launcher uses (``pid``, ``poll``, ``terminate``, ``kill``, ``wait``, ``returncode``), from the
    server's reports. A worker the server never reported is gone once the server is."""

    def __init__(self, server: subprocess.Popen):
        self.server = server
        self.pid: int | None = None
        self.returncode: int | None = None
        self.known = threading.Event()  # pid reported (or the server ended without forking it)

    def poll(self) -> int | None:
        if self.returncode is None and self.server.poll() is not None and not self._exists():
            # the server died before it reported this worker's end: its code is unknown
            self.returncode = -signal.SIGKILL if self.pid is not None else 1
        return self.returncode

    def _exists(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _signal(self, sig: int) -> None:
        if self.pid is not None and self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("worker", timeout)
            time.sleep(0.01)
        return self.returncode


def share_weights(cfg: SystemConfig, spec) -> bool:
    """Whether this machine's workers start from one fork server (``helix.prototype.forkserver``):
    asked for, more than one worker, CPU torch engines (a process cannot fork after CUDA started)."""
    return (
        bool(getattr(spec, "share_weights", True))
        and len(cfg.workers) > 1
        and spec.engine == "torch"
        and str(spec.device) == "cpu"
    )


class LocalLauncher:
    """The workers as processes of this machine; each one's stdout and stderr to
    ``log_dir/worker<id>.log``. With ``share_weights`` (the default, CPU) one fork server builds
    the weights they hold once and forks them, so they read one physical copy; otherwise one
    ``python -m helix.prototype.worker`` subprocess per worker."""

    def __init__(
        self,
        cfg: SystemConfig,
        cfg_path: str,
        model_config: str,
        model_name: str,
        spec,
        log_dir: str | Path,
        checkpoint: str | None = None,
    ):
        self.procs: dict[int, subprocess.Popen | _Forked] = {}
        self.server: subprocess.Popen | None = None
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **worker_env(spec), PYTHONUNBUFFERED="1")
        if share_weights(cfg, spec):
            self._fork(cfg, cfg_path, model_config, model_name, spec, checkpoint, env)
            return
        for w in cfg.workers:
            fh = open(self.log_dir / f"worker{w.id}.log", "w")
            argv = [
                sys.executable,
                "-m",
                "helix.prototype.worker",
                *worker_argv(cfg_path, w.id, model_config, model_name, spec, checkpoint),
            ]
            self.procs[w.id] = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env)
            fh.close()

    def _fork(self, cfg, cfg_path, model_config, model_name, spec, checkpoint, env) -> None:
        plan = {
            "workers": [
                {
                    "id": w.id,
                    "argv": worker_argv(cfg_path, w.id, model_config, model_name, spec, checkpoint),
                    "log": str(self.log_dir / f"worker{w.id}.log"),
                }
                for w in cfg.workers
            ]
        }
        fh = open(self.log_dir / "forkserver.log", "w")
        self.server = subprocess.Popen(
            # the run's directory in the command line (and so in every forked worker's): ``ps`` and
            # the tests tell whose processes these are, as with the workers' own command lines
            [sys.executable, "-m", "helix.prototype.forkserver", str(self.log_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=fh,
            env=env,
            text=True,
        )
        fh.close()
        self.procs = {w.id: _Forked(self.server) for w in cfg.workers}
        self.server.stdin.write(json.dumps(plan) + "\n")
        self.server.stdin.close()
        self._reader = threading.Thread(target=self._reports, name="helix-forkserver", daemon=True)
        self._reader.start()

    def _reports(self) -> None:
        """The fork server's lines: each worker's pid when forked, its exit code when it ended."""
        for line in self.server.stdout:
            try:
                got = json.loads(line)
                p = self.procs[got["id"]]
            except (ValueError, KeyError, TypeError):
                continue
            if "pid" in got:
                p.pid = int(got["pid"])
                p.known.set()
            elif "code" in got:
                p.returncode = int(got["code"])
        for p in self.procs.values():  # the server has ended: nothing more will be forked
            p.known.set()

    def alive(self) -> set[int]:
        """Ids of workers whose process has exited (the name is the host's question: who is gone)."""
        return {nid for nid, p in self.procs.items() if p.poll() is not None}

    def last_line(self, nid: int) -> str:
        """The last line worker ``nid`` wrote (its one-line error when it failed to start)."""
        try:
            lines = [
                ln
                for ln in (self.log_dir / f"worker{nid}.log").read_text(errors="replace").splitlines()
                if ln.strip()
            ]
        except OSError:
            return ""
        return lines[-1].strip()[:300] if lines else ""

    def pids(self) -> dict[int, int]:
        for p in self.procs.values():
            if isinstance(p, _Forked):
                p.known.wait(10)
        return {nid: p.pid for nid, p in self.procs.items() if p.pid is not None}

    def shutdown(self, grace_s: float = 3.0) -> dict[int, int | None]:
        deadline = time.monotonic() + grace_s
        for p in self.procs.values():
            while p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.server is not None:  # it exits once it has reaped every worker
            try:
                self.server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self._reader.join(timeout=2)  # the exit codes it reported last
        return {nid: p.returncode for nid, p in self.procs.items()}


def _ray_worker_task(cfg_dict: dict, model_json: str, argv: list[str]) -> int:
    """Runs on the Ray node: materialise the config files locally, then be a worker."""
    from helix.prototype import worker

    with tempfile.TemporaryDirectory(prefix="helix-worker-") as d:  # removed however the worker ends
        cfg_path, model_path = os.path.join(d, "system.yaml"), os.path.join(d, "model.json")
        SystemConfig.from_dict(cfg_dict).save(cfg_path)
        Path(model_path).write_text(model_json)
        argv = list(argv)
        argv[argv.index("--system-config") + 1] = cfg_path
        argv[argv.index("--model-config") + 1] = model_path
        return worker.main(argv)


def map_to_ray_nodes(cfg: SystemConfig, ray_nodes: list[dict]) -> dict[int, str]:
    """Worker id -> Ray node IP, by ``gpu_model:<TYPE>`` resources (each Ray node used once per unit)."""
    free: dict[str, list[str]] = {}
    for n in ray_nodes:
        if not n.get("Alive", True):
            continue
        for res, amount in n.get("Resources", {}).items():
            if res.startswith("gpu_model:"):
                free.setdefault(res.split(":", 1)[1], []).extend([n["NodeManagerAddress"]] * int(amount))
    out = {}
    for w in cfg.workers:
        pool = free.get(w.gpu, [])
        if not pool:
            raise HelixInputError("ray", f"gpu_model:{w.gpu}", f"no Ray node left for machine {w.name}")
        out[w.id] = pool.pop(0)
    return out


class RayLauncher:
    """One Ray task per worker, pinned to a node with the machine's GPU type."""

    def __init__(
        self,
        cfg: SystemConfig,
        model_config: str,
        model_name: str,
        spec,
        address: str | None = None,
        checkpoint: str | None = None,
    ):
        import ray

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address or os.environ.get("RAY_ADDRESS") or "auto", log_to_driver=False)
        ips = map_to_ray_nodes(cfg, ray.nodes())
        cfg.nodes[0].address = ray.util.get_node_ip_address()
        for w in cfg.workers:
            w.address = ips[w.id]
        self.cfg = cfg
        model_json = Path(model_config).read_text()
        task = ray.remote(_ray_worker_task)
        self.refs = {}
        for w in cfg.workers:
            opts = {
                "resources": {f"gpu_model:{w.gpu}": 1, f"node:{w.address}": 0.001},
                "num_gpus": spec.gpu,
                "num_cpus": 0,
                "max_retries": 0,
                # a fresh worker process per task with this environment (torch reads it when it loads)
                "runtime_env": {"env_vars": worker_env(spec)},
            }
            argv = worker_argv("-", w.id, "-", model_name, spec, checkpoint)
            self.refs[w.id] = task.options(**opts).remote(cfg.to_dict(), model_json, argv)

    def alive(self) -> set[int]:
        done, _ = self.ray.wait(list(self.refs.values()), num_returns=len(self.refs), timeout=0)
        done = set(done)
        return {nid for nid, r in self.refs.items() if r in done}

    def shutdown(self, grace_s: float = 3.0) -> dict[int, int | None]:
        deadline = time.monotonic() + grace_s
        while self.alive() != set(self.refs) and time.monotonic() < deadline:
            time.sleep(0.05)
        codes = {}
        for nid, r in self.refs.items():
            if nid not in self.alive():
                self.ray.cancel(r, force=True)
                codes[nid] = None
            else:
                try:
                    codes[nid] = self.ray.get(r, timeout=1)
                except Exception:  # a worker that crashed: its code is unknown
                    codes[nid] = None
        return codes


def describe(codes: dict) -> str:
    return json.dumps({str(k): v for k, v in codes.items()})
