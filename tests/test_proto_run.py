"""Real multi-process prototype runs on CPU: host + 4 workers of the tiny model on the test layout.

Each run serves a few seconds (start-up, mostly torch imports, dominates the wall time).
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")

from helix.clusters.build import build_cluster  # noqa: E402
from helix.config.schema import load_config  # noqa: E402
from helix.layout import Layout  # noqa: E402
from helix.prototype.host import prompt_ids  # noqa: E402
from helix.prototype.model import LlamaConfig, Reference  # noqa: E402
from helix.prototype.run import StartupError, run_prototype  # noqa: E402
from helix.prototype.settings import ProtoRunSpec  # noqa: E402
from helix.prototype.traces import load_traces  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "config/test/tiny-llama.json"
LAYOUT = REPO / "config/test/proto-layout.yaml"
LENGTHS = {"scale": 0.0625, "min_input": 4, "max_input": 64, "min_output": 2, "max_output": 16}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    cfg = load_config(REPO / "config/test/config.yaml")
    return build_cluster("tiny4", cfg.clusters["tiny4"], dict(cfg.gpus))


@pytest.fixture(scope="module")
def traces(artifact_dir):
    return load_traces(artifact_dir=artifact_dir)


def _spec(**kw) -> ProtoRunSpec:
    base = dict(
        cluster="tiny4",
        model="tiny-llama",
        method="manual",
        scheduler="helix",
        mode="offline",
        duration_s=6,
        warmup_s=1,
        n_init=6,
        lengths=LENGTHS,
        layer_tps=2000,
        kv_slots=4000,
        startup_timeout_s=120,
    )
    base.update(kw)
    return ProtoRunSpec(**base)


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split()] if s else []


def _check_routes(routes: list[dict], layout: Layout, cfg: dict) -> set[tuple]:
    """Every route with a stage covers [0, L) contiguously; each stage is a suffix of its node."""
    held = {n["id"]: (n["start"], n["end"]) for n in cfg["nodes"]}
    shapes = set()
    for r in routes:
        nodes, starts, ends = _ints(r["nodes"]), _ints(r["starts"]), _ints(r["ends"])
        if r["status"] != "finished":
            continue
        assert starts[0] == 0 and ends[-1] == layout.num_layers, r
        assert all(e == s for e, s in zip(ends, starts[1:])), r
        for n, s, e in zip(nodes, starts, ends):
            assert held[n][0] <= s < e == held[n][1], (r, held[n])
        shapes.add(tuple(zip(nodes, starts, ends)))
    return shapes


def _check_events(events: list[dict], routes: list[dict]) -> None:
    """Every out pairs with one in (except a request's last in-flight iteration); decode counts."""
    by_req: dict[int, list[dict]] = {}
    for e in events:
        by_req.setdefault(int(e["request_id"]), []).append(e)
    info = {int(r["request_id"]): r for r in routes}
    times = [float(e["time"]) for e in events]
    assert times == sorted(times)
    for rid, evs in by_req.items():
        r = info[rid]
        a, b = int(r["input_len"]), int(r["output_len"])
        outs = [(e["phase"], int(e["context_len"])) for e in evs if e["direction"] == "out"]
        ins = [(e["phase"], int(e["context_len"])) for e in evs if e["direction"] == "in"]
        assert len(set(outs)) == len(outs) and len(set(ins)) == len(ins)
        assert set(ins) <= set(outs)
        unmatched = set(outs) - set(ins)
        if r["status"] == "finished":
            assert not unmatched
            assert outs == [("prompt", 0)] + [("decode", a + k) for k in range(1, b)]
            assert int(evs[0]["tokens"]) == a + 1
        else:
            assert len(unmatched) <= 1


@pytest.fixture(scope="module")
def helix_run(tmp_path_factory, cluster, traces):
    out = tmp_path_factory.mktemp("proto_helix")
    metrics = run_prototype(Layout.load(LAYOUT, cluster), TINY, _spec(), out, *traces, cluster=cluster)
    return out, metrics


def test_distributed_greedy_tokens_equal_single_process(helix_run):
    out, _ = helix_run
    cfg = LlamaConfig.from_json(TINY, "tiny-llama")
    ref = Reference(cfg, seed=0)
    rows = [r for r in _read(out / "tokens.csv") if r["status"] == "finished"]
    assert len(rows) >= 5
    for r in rows:
        prompt = _ints(r["prompt"])
        assert prompt == prompt_ids(0, int(r["request_id"]), len(prompt), cfg.vocab_size)
        assert _ints(r["output"]) == ref.generate(prompt, len(_ints(r["output"]))), r["request_id"]


def test_routes_cover_all_layers_and_use_overlaps(helix_run):
    out, _ = helix_run
    routes = _read(out / "routes.csv")
    cfg = yaml.safe_load((out / "system_config.yaml").read_text())
    shapes = _check_routes(routes, Layout.load(LAYOUT), cfg)
    assert len(shapes) >= 2  # the branching layout is used
    names = {n["id"]: n["name"] for n in cfg["nodes"]}
    partial = [
        s for shape in shapes for s in shape if s[1] != {"n0": 0, "n1": 0, "n2": 5, "n3": 3}[names[s[0]]]
    ]
    assert partial, "no stage ran a suffix of its node's range"


def test_events_pair_up_and_metrics_are_finite(helix_run):
    out, metrics = helix_run
    _check_events(_read(out / "events.csv"), _read(out / "routes.csv"))
    assert metrics["decode_throughput_tps"] > 0 and metrics["failed_requests"] == 0
    for key in ("prompt_latency_s", "decode_latency_s"):
        assert all(math.isfinite(v) and v > 0 for v in metrics[key].values()), metrics[key]
    assert json.loads((out / "metrics.json").read_text())["n_decodes"] == metrics["n_decodes"] > 0
    run = json.loads((out / "run.json").read_text())
    assert run["worker_exit_codes"] == {"1": 0, "2": 0, "3": 0, "4": 0}  # stopped by the host, not killed
    assert all(not any(rep["dropped"].values()) for rep in run["worker_reports"].values())


def _inject_garbage(cfg_path: Path, node: int) -> None:
    """To a live worker: one malformed message, one that claims to come from the host without its
    key, one signed with the key of a node that is not an in-neighbour, and one really signed by the
    host whose token id is outside the vocabulary (that one used to raise IndexError in the
    embedding and kill the worker)."""
    import zmq

    from helix.prototype.transport import encode

    cfg = yaml.safe_load(cfg_path.read_text())
    keys = {int(k): bytes.fromhex(v) for k, v in cfg["keys"].items()}
    n = cfg["nodes"][node]
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 1000)
    s.connect(f"tcp://{n['address']}:{n['port']}")
    s.send_multipart([b"\x00garbage", b""])
    header = {
        "type": "prompt",
        "src": 0,
        "rid": 10**6,
        "max_tokens": 9,
        "context": 0,
        "stage": 0,
        "route": [[node, 0, 3]],
    }
    s.send_multipart(encode(header, torch.arange(4, dtype=torch.int32), key=b"not the host's key"))
    # n1 (node 2) starts at layer 0 like n0: neither an in-neighbour nor a loop-back source of node 1
    s.send_multipart(encode(dict(header, src=2), torch.arange(4, dtype=torch.int32), key=keys[2]))
    s.send_multipart(encode(header, torch.tensor([1, 2, 10**6], dtype=torch.int32), key=keys[0]))
    s.close()
    ctx.term()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").is_file() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_killed_worker_fails_its_requests_and_the_run_ends_cleanly(tmp_path, cluster, traces):
    """swarm, online: kill n3 mid-run; its requests fail, later ones go through n2, all processes end.

    n3 [3, 8), not n2 [5, 8): the swarm scheduler's feedback can steer every request off n2 for
    seconds (a killed n2 then carried none: 1 run in 4 failed here), while every route but
    n1 > n2 and n0 > n1 > n2 passes n3, and those two remain after it dies."""
    seen: dict[int, int] = {}
    killed_at: list[float] = []

    def on_serving(pids):
        seen.update(pids)
        victim = pids[4]  # n3 [3, 8): n1 [0, 5) > n2 [5, 8) can take over
        _inject_garbage(tmp_path / "work" / "system_config.yaml", node=1)

        def kill():
            # stopped for half a second first: requests routed to it meanwhile are surely in flight
            # when it dies (a fast prototype can have none on it at a given instant; CI saw that)
            time.sleep(2.0)
            os.kill(victim, signal.SIGSTOP)
            time.sleep(0.5)
            os.kill(victim, signal.SIGKILL)
            killed_at.append(time.monotonic())

        threading.Thread(target=kill, daemon=True).start()

    spec = _spec(scheduler="swarm", mode="online", rate_tps=500, duration_s=8)
    metrics = run_prototype(
        Layout.load(LAYOUT, cluster), TINY, spec, tmp_path, *traces, cluster=cluster, on_serving=on_serving
    )
    run = json.loads((tmp_path / "run.json").read_text())
    assert list(run["dead_workers"]) == ["4"]
    dead_at = run["dead_workers"]["4"]
    assert 2.5 <= dead_at <= 2.5 + 2.0 + spec.heartbeat_timeout_s  # noticed within seconds
    events = _read(tmp_path / "events.csv")
    routes = _read(tmp_path / "routes.csv")
    fails = [e for e in events if e["direction"] == "fail"]
    assert fails and metrics["failed_requests"] == len({e["request_id"] for e in fails}) == run["failed"]
    assert all(abs(float(e["time"]) - dead_at) < 1.0 for e in fails)
    _check_events(events, routes)
    cfg = yaml.safe_load((tmp_path / "system_config.yaml").read_text())
    _check_routes(routes, Layout.load(LAYOUT), cfg)
    first_out = {int(e["request_id"]): float(e["time"]) for e in reversed(events) if e["direction"] == "out"}
    after = [
        r
        for r in routes
        if first_out.get(int(r["request_id"]), 0) > dead_at + 0.5 and r["status"] == "finished"
    ]
    assert after, "no request was served after the failure"
    assert all(4 not in _ints(r["nodes"]) for r in after)
    # a late loop-back decode of a request the host has just aborted is dropped as "aborted" (a race)
    assert {k: v for k, v in run["worker_reports"]["1"]["dropped"].items() if k != "aborted"} == {
        "malformed": 1,
        "bad_mac": 1,
        "unknown_peer": 1,
        "bad_token": 1,
    }
    assert run["worker_exit_codes"]["4"] == -9 and all(
        run["worker_exit_codes"][k] == 0 for k in ("1", "2", "3")
    )
    assert not any(_alive(p) for p in seen.values())


def test_worker_never_ready_is_a_clear_error_and_nothing_is_left(tmp_path, cluster, traces):
    with pytest.raises(StartupError, match=r"not ready after 0.5 s"):
        run_prototype(
            Layout.load(LAYOUT, cluster),
            TINY,
            _spec(startup_timeout_s=0.5),
            tmp_path,
            *traces,
            cluster=cluster,
        )
    assert not (tmp_path / "events.csv").exists() and not (tmp_path / "metrics.json").exists()
    time.sleep(0.2)
    mine = [p for p in Path("/proc").iterdir() if p.name.isdigit() and str(tmp_path).encode() in _cmdline(p)]
    assert not mine


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.ray
def test_ray_launcher_runs_one_worker_per_gpu_model_node(tmp_path, cluster, traces, monkeypatch):
    """A local Ray instance whose custom resources stand for the GPU types (no GPUs needed)."""
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=2,
        resources={"gpu_model:A100": 1, "gpu_model:L4": 1, "gpu_model:T4": 2},
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        spec = _spec(scheduler="random", launcher="ray", duration_s=5)
        metrics = run_prototype(Layout.load(LAYOUT, cluster), TINY, spec, tmp_path, *traces, cluster=cluster)
    finally:
        ray.shutdown()
    assert metrics["decode_throughput_tps"] > 0 and metrics["failed_requests"] == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["worker_exit_codes"] == {"1": 0, "2": 0, "3": 0, "4": 0}
    cfg = yaml.safe_load((tmp_path / "system_config.yaml").read_text())
    assert len({n["address"] for n in cfg["nodes"]}) == 1  # one Ray node here: every worker on it
    _check_routes(_read(tmp_path / "routes.csv"), Layout.load(LAYOUT), cfg)


def test_workers_holding_every_layer_serve_the_single_process_tokens(tmp_path, cluster, traces):
    """Two workers that each hold all 8 layers, with 2 torch threads each whose idle OpenMP threads
    sleep at once (``benchmarks/prototype.py --threads 2 --omp-wait-policy passive``): every route
    is one stage, so a worker queues a request's next decode itself (no message to itself) and runs
    waiting prompts in its decode steps; the tokens are still the one-thread single process's,
    every request's route is one worker, and each worker ran with the threads and wait policy it
    was given. Both were forked from one process that built the weights (``share_weights``, the
    default): their weight pages are one physical copy, which each reads (``/proc/<pid>/smaps_rollup``:
    anonymous memory counted in full in RSS but shared in PSS)."""
    path = tmp_path / "replicas.yaml"
    path.write_text(json.dumps({"num_layers": 8, "layers": {"n0": [0, 8], "n1": [0, 8]}}))
    out = tmp_path / "run"
    spec = _spec(threads=2, omp_wait_policy="passive")
    shared_mb = {}

    def look(pids):
        for nid, pid in pids.items():
            rollup = Path(f"/proc/{pid}/smaps_rollup")
            if rollup.is_file():
                kb = {
                    k: int(v.split()[0])
                    for k, v in (ln.split(":", 1) for ln in rollup.read_text().splitlines()[1:])
                }
                shared_mb[nid] = (kb["Anonymous"] - kb["Pss_Anon"]) / 1024

    metrics = run_prototype(
        Layout.load(path, cluster), TINY, spec, out, *traces, cluster=cluster, on_serving=look
    )
    assert metrics["failed_requests"] == 0
    ref = Reference(LlamaConfig.from_json(TINY, "tiny-llama"), seed=0)
    rows = [r for r in _read(out / "tokens.csv") if r["status"] == "finished"]
    assert len(rows) >= 5
    for r in rows:
        prompt = _ints(r["prompt"])
        assert _ints(r["output"]) == ref.generate(prompt, len(_ints(r["output"]))), r["request_id"]
    run = json.loads((out / "run.json").read_text())
    reports = run["worker_reports"].values()
    assert all(not any(rep["dropped"].values()) for rep in reports)
    assert len(reports) == 2 and all(rep["perf"]["local_decodes"] > 0 for rep in reports)
    assert all(rep["perf"]["torch_threads"] == 2 and rep["perf"]["omp_passive"] == 1 for rep in reports)
    assert all(rep["perf"]["shared_weights"] == 1 for rep in reports)
    # the fused and the packed weights, 2 x 25 MB, shared by the fork server and both workers: each
    # worker's PSS counts a third of them (none without sharing; Linux only)
    weights_mb = 2 * 4 * sum(p.numel() for p in ref.layers[0].parameters()) * 8 / 2**20
    assert set(shared_mb) <= {1, 2} and all(v > weights_mb / 2 for v in shared_mb.values()), shared_mb
    assert run["host_loop_cpu_s"] > 0  # the host's serving-loop CPU (benchmarks/prototype.py reads it)
    finished = [r for r in _read(out / "routes.csv") if r["status"] == "finished"]
    assert finished and all(len(_ints(r["nodes"])) == 1 for r in finished), finished[:3]
