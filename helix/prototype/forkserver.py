"""Start the workers of one machine from one process that built their weights first.

Why: workers on the same machine that hold the same layers (``replicas``: two whole-model workers on
the 2-core development machine) would each read or draw, fuse and pack their own copy of every weight
(tiny-llama: 23 MB fused plus 23 MB oneDNN-packed per worker, of which a decode step reads the packed
half). oneDNN's packed weights are opaque tensors that cannot be placed in shared memory, but pages a
process built before ``fork`` stay physically shared by its children as long as nobody writes them,
and nothing writes a weight: one copy in memory, built once (start-up 1.8 s instead of 3.3 s for two
replicas; two back-to-back decode loops ~10 % faster, the benchmark's decode rate unchanged:
docs/prototype-performance.md). So this process builds the union of the co-located workers' ranges once
(``torch_engine.preload``), then forks one child per worker, which runs ``worker.main`` with its own
log as stdout and stderr and finds its layers already built.

Protocol (``launch.LocalLauncher``): one JSON line on stdin, ``{"workers": [{"id", "argv", "log"}]}``;
on stdout one JSON line per worker when it is forked (``{"id", "pid"}``) and one when it has exited
(``{"id", "code"}``, the exit status as ``subprocess`` gives it: negative for a signal). The server
exits when every worker has. If building the shared weights fails (a bad checkpoint, say), the workers
are forked all the same and build their own, so each reports its one-line error as it would have.
CPU only: a child forked after CUDA was initialised cannot use it (the launcher spawns workers on
other devices one by one, as before).

Run as ``python -m helix.prototype.forkserver [RUN_DIR]`` (the launcher does; RUN_DIR only names the run
in the command line, which the forked workers inherit).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback


def preload(workers: list[dict]) -> None:
    """Build each distinct model's weights once, over the union of its workers' ranges."""
    import torch

    from helix.prototype import worker as worker_mod
    from helix.prototype.engines.torch_engine import preload as build
    from helix.prototype.model import LlamaConfig
    from helix.prototype.sysconfig import SystemConfig

    # one thread here: no OpenMP thread team exists when the children are forked (each starts its own)
    torch.set_num_threads(1)
    groups: dict[tuple, list[int]] = {}
    for w in workers:
        a = worker_mod.build_parser().parse_args(w["argv"])
        if a.engine != "torch" or a.device != "cpu":
            continue
        node = SystemConfig.load(a.system_config).node(a.node_id)
        key = (a.model_config, a.checkpoint, a.model_name, a.seed, a.device, a.dtype)
        span = groups.setdefault(key, [node.start, node.end])
        span[0], span[1] = min(span[0], node.start), max(span[1], node.end)
    for (model_config, ckpt, name, seed, device, dtype), (s, e) in groups.items():
        cfg = LlamaConfig.from_json(model_config if not ckpt else os.path.join(ckpt, "config.json"), name)
        build(cfg, (s, e), seed=seed, device=device, dtype=dtype, checkpoint=ckpt)


def _child(w: dict, log_fd: int, report) -> int:
    """In the forked child: become worker ``w`` with its log as stdout and stderr."""
    try:
        report.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from helix.prototype import worker

        return worker.main(w["argv"])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must end here, never return into the server's loop
        traceback.print_exc()
        return 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass


def serve(plan: dict, report) -> int:
    workers = plan["workers"]
    try:
        preload(workers)
    except Exception as exc:  # noqa: BLE001 - the workers build their own and say what is wrong
        print(f"forkserver: no shared weights ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, int] = {}

    def say(obj: dict) -> None:
        try:
            report.write(json.dumps(obj) + "\n")
            report.flush()
        except OSError:  # the launcher is gone; the workers end by themselves (orphan timeout)
            pass

    for w in workers:
        log_fd = os.open(w["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        pid = os.fork()
        if pid == 0:
            os._exit(_child(w, log_fd, report))
        os.close(log_fd)
        children[pid] = w["id"]
        say({"id": w["id"], "pid": pid})
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        nid = children.pop(pid, None)
        if nid is not None:
            say({"id": nid, "code": os.waitstatus_to_exitcode(status)})
    return 0


def main() -> int:
    # a terminal's Ctrl-C reaches the whole process group: the workers handle it; this process keeps
    # reaping them and reporting their exits
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    plan = json.loads(sys.stdin.readline())
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to the log, not into the report
    return serve(plan, report)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as a worker does: no interpreter finalisation (torch's pools)
