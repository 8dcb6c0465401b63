"""Prototype pieces in one process: model split equality, engine batching, wire format, system config,
routing adapters, event-log pairing. Multi-process runs are in test_proto_run.py."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
zmq = pytest.importorskip("zmq")

from helix.errors import HelixInputError  # noqa: E402
from helix.layout import Layout  # noqa: E402
from helix.prototype.engines import StageWork, available, get_engine  # noqa: E402
from helix.prototype.model import LlamaConfig, Reference  # noqa: E402
from helix.prototype.sysconfig import SystemConfig, build_system_config, check_routable  # noqa: E402
from helix.prototype.transport import Inbox, Malformed, decode, encode  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "config/test/tiny-llama.json"
LAYOUT = REPO / "config/test/proto-layout.yaml"


@pytest.fixture(scope="module")
def cfg():
    torch.set_num_threads(1)
    return LlamaConfig.from_json(TINY, "tiny-llama")


def _prompts(n, vocab):
    g = torch.Generator().manual_seed(7)
    return [torch.randint(0, vocab, (5 + 7 * i,), generator=g).tolist() for i in range(n)]


def test_split_overlapping_ranges_batched_decode_equals_single_process(cfg):
    """A[0,6) B[3,8) C[4,8): even requests A[0,4)->C[4,8), odd A[0,3)->B[3,8); decodes batched."""
    ref = Reference(cfg, seed=0)
    prompts = _prompts(4, cfg.vocab_size)
    out_len = 10
    want = [ref.generate(p, out_len) for p in prompts]
    E = get_engine("torch")
    a, b, c = E(cfg, (0, 6)), E(cfg, (3, 8)), E(cfg, (4, 8))
    got = {i: [] for i in range(4)}
    last = {}
    for it in range(out_len):
        for i, p in enumerate(prompts):
            split = 4 if i % 2 == 0 else 3
            payload = torch.tensor(p, dtype=torch.int32) if it == 0 else last[i]
            ctx = 0 if it == 0 else len(p) + it - 1
            a.submit(
                StageWork(i, "prompt" if it == 0 else "decode", 0, split, payload, len(p) + out_len, ctx)
            )
        for o in a.step():
            nxt = c if o.work.rid % 2 == 0 else b
            assert not o.is_token and o.payload.shape == (
                1 if it else len(prompts[o.work.rid]),
                cfg.hidden_size,
            )
            nxt.submit(
                StageWork(
                    o.work.rid, o.work.phase, o.work.end, 8, o.payload, o.work.max_tokens, o.work.context
                )
            )
        for eng in (b, c):
            outs = eng.step()
            if it:
                assert len(outs) == 2  # both requests of this stage ran in one decode batch
            for o in outs:
                assert o.is_token
                last[o.work.rid] = o.payload
                got[o.work.rid].append(int(o.payload[0]))
    assert [got[i] for i in range(4)] == want
    assert a.cached_requests() == b.cached_requests() == c.cached_requests() == 0  # freed at the end
    assert len(set(map(tuple, want))) == 4  # different prompts, different outputs


def test_decode_micro_batches_leave_the_rest_queued_and_equal_single_process(cfg):
    """``step(max_decodes=2)`` on a 2-stage pipeline: at most 2 decodes per step, the oldest first,
    the others stay queued for the next step, and the tokens are those of the whole model."""
    ref = Reference(cfg, seed=0)
    prompts = _prompts(5, cfg.vocab_size)
    out_len = 6
    want = [ref.generate(p, out_len) for p in prompts]
    E = get_engine("torch")
    s0, s1 = E(cfg, (0, 4)), E(cfg, (4, 8))
    got = {i: [] for i in range(5)}
    for i, p in enumerate(prompts):
        s0.submit(StageWork(i, "prompt", 0, 4, torch.tensor(p, dtype=torch.int32), len(p) + out_len, 0))
    sizes = []
    while s0.queue or s1.queue:
        waiting = [w.rid for w in s0.queue if w.phase == "decode"]
        outs0 = s0.step(max_decodes=2)
        ran = [o.work.rid for o in outs0 if o.work.phase == "decode"]
        assert (
            ran == waiting[:2] and [w.rid for w in s0.queue] == waiting[2:]
        )  # oldest first; the rest wait, in order
        sizes.append(len(ran))
        for o in outs0:
            s1.submit(StageWork(o.work.rid, o.work.phase, 4, 8, o.payload, o.work.max_tokens, o.work.context))
        for o in s1.step(max_decodes=2):
            rid = o.work.rid
            got[rid].append(int(o.payload[0]))
            if len(got[rid]) < out_len:
                ctx = len(prompts[rid]) + len(got[rid]) - 1
                s0.submit(StageWork(rid, "decode", 0, 4, o.payload, len(prompts[rid]) + out_len, ctx))
    assert [got[i] for i in range(5)] == want
    assert max(sizes) == 2  # capped, and the cap was reached
    assert s0.cached_requests() == s1.cached_requests() == 0


def test_packed_linear_equals_the_plain_product_and_rows_do_not_depend_on_the_batch():
    """``model.linear`` with a oneDNN-packed weight (fp32, CPU): the product F.linear computes, to
    rounding, and each row's result bit-identical whatever else is in the batch (MKL's sgemm behind
    F.linear does not promise that), so a request's numbers do not depend on what it is batched with."""
    from helix.prototype.model import PACKED_LINEAR, linear, pack_weight

    g = torch.Generator().manual_seed(3)
    w = torch.randn(688, 256, generator=g) / 16
    x = torch.randn(8, 256, generator=g)
    packed = pack_weight(w)
    if not PACKED_LINEAR:
        assert packed is None  # switched off (HELIX_PACKED_LINEAR=0) or no oneDNN: the plain product
        pytest.skip("packed linear not available")
    assert packed is not None and pack_weight(w.double()) is None  # fp32 only
    y = linear(x, w, packed)
    assert torch.allclose(y, torch.nn.functional.linear(x, w), rtol=1e-5, atol=1e-5)
    for rows in ([0], [0, 1, 2], [0, 3, 4, 5, 6, 7]):
        assert torch.equal(linear(x[rows], w, packed)[0], y[0])


def test_prompts_a_layer_at_a_time_and_decodes_first_give_the_same_tokens(cfg):
    """``step(phase="decode")`` runs only the decodes (the prompts stay queued), ``step(phase="prompt",
    max_layers=1)`` one layer of the oldest prompt (an unfinished prompt resumes where it stopped),
    and requests run that way get the whole model's tokens; the engine counts steps and rows."""
    ref = Reference(cfg, seed=0)
    prompts = _prompts(3, cfg.vocab_size)
    out_len = 4
    want = [ref.generate(p, out_len) for p in prompts]
    eng = get_engine("torch")(cfg, (0, 8))
    got = {i: [] for i in range(3)}
    eng.submit(
        StageWork(0, "prompt", 0, 8, torch.tensor(prompts[0], dtype=torch.int32), len(prompts[0]) + out_len)
    )
    layers_run = 0
    while eng.queue:
        if len(got[0]) == 1 and not got[1] and all(w.rid != 1 for w in eng.queue):
            for i in (1, 2):  # two more prompts join while request 0 decodes
                p = prompts[i]
                eng.submit(StageWork(i, "prompt", 0, 8, torch.tensor(p, dtype=torch.int32), len(p) + out_len))
        n_prompts = sum(w.phase == "prompt" for w in eng.queue)
        outs = eng.step(phase="decode")
        assert all(o.work.phase == "decode" for o in outs)
        assert sum(w.phase == "prompt" for w in eng.queue) == n_prompts  # untouched
        before = eng._partial.get(eng.queue[0].rid, (None, 0))[1] if n_prompts else None
        outs += eng.step(phase="prompt", max_layers=1)
        if n_prompts:
            layers_run += 1
            done = [o for o in outs if o.work.phase == "prompt"]
            assert len(done) <= 1 and (done or eng._partial[eng.queue[0].rid][1] == (before or 0) + 1)
        for o in outs:
            rid = o.work.rid
            got[rid].append(int(o.payload[0]))
            if len(got[rid]) < out_len:
                ctx = len(prompts[rid]) + len(got[rid]) - 1
                eng.submit(StageWork(rid, "decode", 0, 8, o.payload, len(prompts[rid]) + out_len, ctx))
    assert [got[i] for i in range(3)] == want
    assert layers_run == 3 * cfg.num_layers  # each prompt took one call per layer
    assert eng.perf["prompts"] == 3 and eng.perf["decode_rows"] == 3 * (out_len - 1)
    assert eng.cached_requests() == 0 and not eng._partial


def test_first_stage_holds_decodes_for_the_rest_of_their_group():
    """``Worker.hold_s``: a first stage holds waiting decodes while decodes it sent on are still to come
    back, at most twice its recent step time; never with regroup off, a full batch, or a decode in the
    middle of its route."""
    import argparse
    import time

    from helix.prototype.worker import Worker

    w = Worker.__new__(Worker)
    w.args = argparse.Namespace(decode_batch=None)
    w.engine = argparse.Namespace(queue=[])
    w.regroup, w.step_s = True, 0.01

    def decode(rid, stage=0):
        return StageWork(rid, "decode", 0, 4, None, 20, 5, {"stage": stage})

    now = time.monotonic()
    w.engine.queue = [decode(1)]
    w.waiting_since, w.expected = now, {2: now, 3: now}
    assert 0.015 < w.hold_s() <= 0.02  # 2 x 10 ms from the first decode's arrival
    w.expected = {}
    assert w.hold_s() == 0  # the whole group is here
    w.expected = {2: now}
    w.waiting_since = now - 0.03
    assert w.hold_s() <= 0  # held long enough
    w.waiting_since = now
    w.args.decode_batch = 1
    assert w.hold_s() == 0  # a full batch
    w.args.decode_batch = None
    w.engine.queue = [decode(1), decode(4, stage=1)]
    assert w.hold_s() == 0  # a later stage runs what comes
    w.engine.queue = [decode(1)]
    w.regroup = False
    assert w.hold_s() == 0
    w.regroup = True
    w.expected = {2: now - 5}
    assert w.hold_s() == 0 and not w.expected  # one that cannot be on its way any more is forgotten


def test_prompt_layers_are_fitted_around_the_returning_decode_batch(cfg):
    """``Worker.prompt_budget``: with no decode on its way back a worker runs whole prompts; with a
    batch due later it runs the prompt layers that fit before it; with the batch about to return it
    runs none and says how long to wait for it, unless the prompts would wait longer than the
    batch's requests lose (the cost rule) or the batch is late; ``pending_prompts`` counts what is
    left of a prompt stopped between two layers. A returning decode teaches the round-trip time."""
    import argparse
    import time

    from helix.prototype.worker import Worker

    eng = get_engine("torch")(cfg, (0, 4))
    w = Worker.__new__(Worker)
    w.engine, w.fit_prompts, w.prompt_layers = eng, True, None
    w.coming, w.rtt, w.layer_s, w.step_s, w.sent_at, w.stretch = {}, None, 1e-4, 0.003, 0.0, 1.0
    eng.submit(StageWork(7, "prompt", 0, 4, torch.arange(16, dtype=torch.int32), 40))  # 16 + 34 -> 5 ms
    assert eng.pending_prompts() == [(16, 4)]
    assert w.prompt_budget() == (None, 0.0)  # nothing coming back: whole prompts
    now = time.monotonic()
    w.coming, w.sent_at, w.rtt = {1: now, 2: now, 3: now}, now, 0.0125  # due in 12.5 ms
    assert w.prompt_budget()[0] == 2  # two 5-ms layers fit, the third would overrun by 2.5 ms x 3 rows
    w.rtt = 0.001  # due in 1 ms: 3 rows x 4 ms overrun > 1 prompt x (1 + 3) ms waiting
    layers, wait = w.prompt_budget()
    assert layers == 0 and 0 < wait <= 0.0015
    w.stretch = 2.0  # other processes take the core: whole prompts
    assert w.prompt_budget() == (None, 0.0)
    w.stretch = 1.0
    w.step_s = 0.02  # a long decode step: the prompt would wait longer than the rows lose
    assert w.prompt_budget()[0] >= 1
    w.step_s, w.prompt_layers = 0.003, 1
    w.sent_at = time.monotonic() - 0.01  # the batch is late (by more than a quarter round trip)
    assert w.prompt_budget() == (1, 0.0)
    w.fit_prompts = False
    assert w.prompt_budget() == (1, 0.0)  # whole prompts, capped by --prompt-layers
    eng.step(phase="prompt", max_layers=3)
    assert eng.pending_prompts() == [(16, 1)]
    w.args = argparse.Namespace(decode_batch=None)
    w.expected, w.waiting_since, w.aborted = {}, None, {}
    w.woke_at, w.woke_idle, w.rtt = now + 0.004, True, 0.01
    w._round_trip(now)
    assert w.rtt == pytest.approx(0.8 * 0.01 + 0.2 * 0.004)  # an exact sample (the worker was idle)
    w.woke_idle, w.woke_at = False, now + 0.05
    w._round_trip(now)
    assert w.rtt == pytest.approx(0.8 * 0.01 + 0.2 * 0.004)  # busy: only an upper bound, not lower


def test_weights_depend_on_layer_and_seed_only(cfg):
    from helix.prototype.model import DecoderLayer

    assert torch.equal(DecoderLayer(cfg, 3, 0).wq, DecoderLayer(cfg, 3, 0).wq)
    assert not torch.equal(DecoderLayer(cfg, 3, 0).wq, DecoderLayer(cfg, 4, 0).wq)
    assert not torch.equal(DecoderLayer(cfg, 3, 0).wq, DecoderLayer(cfg, 3, 1).wq)


def test_engine_rejects_bad_work(cfg):
    e = get_engine("torch")(cfg, (2, 5))
    with pytest.raises(ValueError):
        e.submit(StageWork(0, "prompt", 1, 5, torch.zeros(3, cfg.hidden_size), 10))
    with pytest.raises(ValueError):
        e.submit(StageWork(0, "decode", 2, 5, torch.zeros(1, cfg.hidden_size), 10, 3))  # no prompt pass here
    e.submit(StageWork(1, "prompt", 2, 5, torch.zeros(3, cfg.hidden_size), 10))
    e.step()
    with pytest.raises(ValueError, match="position 5 but 3 tokens cached"):
        e.submit(StageWork(1, "decode", 2, 5, torch.zeros(1, cfg.hidden_size), 10, 5))
    e.submit(StageWork(2, "prompt", 3, 5, torch.zeros(3, cfg.hidden_size), 10))
    e.step()
    with pytest.raises(ValueError, match="without their prompt pass"):
        e.submit(StageWork(2, "decode", 2, 5, torch.zeros(1, cfg.hidden_size), 10, 3))  # no KV of layer 2
    with pytest.raises(HelixInputError):
        get_engine("vllm")
    assert available() == ["torch"]


def test_wire_format_round_trip_and_malformed():
    h = {
        "type": "decode",
        "src": 1,
        "rid": 3,
        "max_tokens": 9,
        "context": 4,
        "stage": 0,
        "route": [[1, 0, 8]],
    }
    for t in (torch.arange(6, dtype=torch.int32), torch.randn(2, 5), torch.randn(2, 5).to(torch.bfloat16)):
        h2, t2 = decode(encode(h, t))
        assert h2["rid"] == 3 and torch.equal(t2, t)
    bad = [
        [b"{not json", b""],
        [b"{}", b""],
        [encode(h)[0]],
        [b'{"type": "decode", "src": 1}', b""],
        [encode(dict(h, route=[[1, 0]]))[0], b""],
        [encode(h, torch.zeros(3))[0], b"\x00" * 5],
    ]
    for frames in bad:
        with pytest.raises(Malformed):
            decode(frames)


def test_inbox_drops_and_counts_unknown_peers_and_garbage():
    from helix.prototype.sysconfig import free_ports

    ctx = zmq.Context()
    (p,) = free_ports(1)
    inbox = Inbox(ctx, f"tcp://127.0.0.1:{p}", peers={1})
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(f"tcp://127.0.0.1:{p}")
    h = {
        "type": "prompt",
        "src": 1,
        "rid": 0,
        "max_tokens": 9,
        "context": 0,
        "stage": 0,
        "route": [[2, 0, 8]],
    }
    push.send_multipart(encode(h, torch.arange(3, dtype=torch.int32)))
    push.send_multipart(encode(dict(h, src=7), torch.arange(3, dtype=torch.int32)))
    push.send_multipart([b"\xff\xfe", b"x"])
    push.send_multipart([b"only one frame"])
    got = []
    import time

    deadline = time.time() + 5
    while time.time() < deadline and sum(inbox.dropped.values()) + len(got) < 4:
        got += inbox.drain()
        time.sleep(0.01)
    assert len(got) == 1 and got[0][0]["src"] == 1
    assert inbox.dropped == {"unknown_peer": 1, "malformed": 2}
    push.close(0)
    inbox.close()
    ctx.term()


def test_system_config_edges_of_the_test_layout(tmp_path):
    layout = Layout.load(LAYOUT)
    cfg = build_system_config(layout)
    ids = {n.name: n.id for n in cfg.workers}
    out = {n.name: sorted(cfg.node(v).name for v in n.out_nodes) for n in cfg.nodes}
    assert out["host"] == ["n0", "n1"]
    assert out["n0"] == ["n1", "n3"]  # n1 runs [3,5) after n0, n3 runs [3,8)
    assert out["n1"] == ["n2", "n3"]  # n3 runs the suffix [5,8)
    assert out["n2"] == out["n3"] == ["host"]
    assert all(n.address == "127.0.0.1" for n in cfg.nodes)
    ports = [n.port for n in cfg.nodes] + [cfg.control_port, cfg.broadcast_port]
    assert len(set(ports)) == len(ports)
    cfg.save(tmp_path / "s.yaml")
    again = SystemConfig.load(tmp_path / "s.yaml")
    assert again.to_dict() == cfg.to_dict()
    assert check_routable(cfg, {ids["n2"]}) and not check_routable(cfg, {ids["n2"], ids["n3"]})
    fixed = build_system_config(layout, base_port=7000)
    assert [n.port for n in fixed.nodes] == [7000, 7001, 7002, 7003, 7004]


def test_unroutable_layout_is_rejected():
    with pytest.raises(HelixInputError, match="no route covers"):
        build_system_config(Layout(8, {"a": (0, 3), "b": (4, 8)}))


def test_helix_router_plans_contiguous_routes_and_reroutes_around_a_dead_worker():
    from helix.prototype.routing import HelixRouter, HopChooser

    cfg = build_system_config(Layout.load(LAYOUT))
    caps = {w.id: 1000.0 / (w.end - w.start) for w in cfg.workers}
    router = HelixRouter(cfg, "offline", caps, {w.id: 10**6 for w in cfg.workers})
    used = set()
    for rid in range(40):
        route = router.plan(rid, 20, 5)
        assert route[0][1] == 0 and route[-1][2] == 8
        assert all(a[2] == b[1] for a, b in zip(route, route[1:]))
        used.add(tuple(n for n, _, _ in route))
    assert len(used) >= 2  # IWRR spreads over several routes
    dead = next(w.id for w in cfg.workers if w.name == "n2")
    router.mark_dead(dead)
    for rid in range(40, 60):
        route = router.plan(rid, 20, 5)
        assert dead not in [n for n, _, _ in route] and route[-1][2] == 8
    for rid in range(60):
        router.finish(rid)
    for name in ("swarm", "random"):
        ch = HopChooser(cfg, name, 0, seed=0)
        firsts = {ch.choose(0, set())[0] for _ in range(20)}
        assert len(firsts) == 2
        n0 = next(w.id for w in cfg.workers if w.name == "n0")
        assert ch.choose(0, {n0})[0] != n0


def test_events_csv_round_trip_and_pairing(tmp_path):
    from helix.prototype.logparse import pair, read_events, write_events_csv

    rows = [
        (0.5, 0, "out", "prompt", 0, 11),
        (1.0, 0, "in", "prompt", 0, 11),
        (1.0, 0, "out", "decode", 11, 1),
        (1.25, 0, "in", "decode", 11, 1),
        (1.25, 0, "out", "decode", 12, 1),
        (1.5, 1, "out", "prompt", 0, 4),
        (1.75, 1, "fail", "prompt", 0, 0),
    ]
    write_events_csv(tmp_path / "e.csv", rows)
    ev = read_events(tmp_path / "e.csv")
    s = pair(ev)
    assert s.prompt.tolist() == [[1.0, 0.5]] and s.decode.tolist() == [[1.25, 0.25]] and s.failed == 1
    (tmp_path / "bad.csv").write_text(
        "time,request_id,direction,phase,context_len,tokens\n1,0,sideways,prompt,0,1\n"
    )
    with pytest.raises(HelixInputError, match="line 2"):
        read_events(tmp_path / "bad.csv")


def test_ray_mapping_by_gpu_model_resources():
    from helix.cluster import Cluster, Link, Machine
    from helix.prototype.launch import map_to_ray_nodes

    machines = [Machine("n0", "L4"), Machine("n1", "A100"), Machine("n2", "T4"), Machine("n3", "T4")]
    links = [Link("source", m.name, 1e9, 0.001) for m in machines] + [
        Link(m.name, "sink", 1e9, 0.001) for m in machines
    ]
    links += [Link(a.name, b.name, 1e9, 0.001) for i, a in enumerate(machines) for b in machines[i + 1 :]]
    cluster = Cluster("tiny4", machines, links)
    cfg = build_system_config(Layout.load(LAYOUT, cluster), cluster)
    nodes = [
        {"NodeManagerAddress": "10.0.0.1", "Alive": True, "Resources": {"CPU": 8, "gpu_model:A100": 1}},
        {"NodeManagerAddress": "10.0.0.2", "Alive": True, "Resources": {"gpu_model:T4": 2}},
        {"NodeManagerAddress": "10.0.0.3", "Alive": False, "Resources": {"gpu_model:L4": 1}},
        {"NodeManagerAddress": "10.0.0.4", "Alive": True, "Resources": {"gpu_model:L4": 1}},
    ]
    ips = map_to_ray_nodes(cfg, nodes)
    by_name = {cfg.node(k).name: v for k, v in ips.items()}
    assert by_name == {"n0": "10.0.0.4", "n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.2"}
    with pytest.raises(HelixInputError, match="gpu_model:T4"):
        map_to_ray_nodes(cfg, nodes[:1] + nodes[3:])


def test_serve_cli_bad_input_and_startup_timeout(tmp_path, capsys, artifact_dir):
    from helix.cli import main as helix_main

    base = ["serve", "--layout", str(LAYOUT), "--model-config", str(TINY), "--out", str(tmp_path / "out")]
    assert helix_main(base + ["--duration-s", "-1"]) == 2
    assert "duration_s" in capsys.readouterr().err
    assert helix_main(base) == 2  # Azure lengths do not fit the tiny model's 1024 positions
    assert "max_position_embeddings 1024" in capsys.readouterr().err
    base += ["--length-scale", "0.0625", "--max-input", "64", "--max-output", "16"]
    assert (
        helix_main(
            [
                "serve",
                "--layout",
                str(tmp_path / "nope.yaml"),
                "--model-config",
                str(TINY),
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    (tmp_path / "spec.yaml").write_text("startup_timeout_s: 0.3\n")
    assert helix_main(base + ["--spec", str(tmp_path / "spec.yaml")]) == 3
    assert "not ready after 0.3 s" in capsys.readouterr().err
    assert not (tmp_path / "out" / "events.csv").exists()


def test_workflow_functions_find_runs_by_wildcards():
    from types import SimpleNamespace

    from helix.config.schema import load_config
    from helix.prototype import workflow

    cfg = load_config(REPO / "config/test/config.yaml")
    assert workflow.targets(cfg) == ["results/proto/tiny4/tiny-llama/manual/helix/offline/metrics.json"]
    inputs, spec, gpus = workflow.make_functions(cfg)
    wc = SimpleNamespace(
        cluster="tiny4", model="tiny-llama", method="manual", scheduler="helix", mode="offline"
    )
    assert inputs(wc)["layout"] == "config/test/proto-layout.yaml"
    assert inputs(wc)["cluster"] == "results/clusters/tiny4.yaml"
    assert spec(wc)["duration_s"] == 8 and gpus(wc) == 0
    with pytest.raises(HelixInputError, match="no prototype run"):
        spec(SimpleNamespace(**dict(vars(wc), mode="online")))
    # the rule takes any cluster and model: an unknown one is named first, with the config's names
    line = r"results/proto/tiny9/tiny-llama/manual/helix/offline: cluster: unknown cluster \(known: .*tiny4"
    with pytest.raises(HelixInputError, match=line + r".*\) \(got 'tiny9'\)"):
        inputs(SimpleNamespace(**dict(vars(wc), cluster="tiny9")))


def test_half_precision_path_runs(cfg):
    """The GPU dtypes (bf16 here, on CPU) go through the same engine and wire format."""
    e = get_engine("torch")(cfg, (0, 8), dtype="bfloat16")
    e.submit(StageWork(0, "prompt", 0, 8, torch.arange(6, dtype=torch.int32), 9))
    (out,) = e.step()
    assert out.is_token and out.payload.dtype == torch.int32
    e.submit(StageWork(0, "decode", 0, 8, out.payload, 9, 6))
    (out2,) = e.step()
    assert 0 <= int(out2.payload[0]) < cfg.vocab_size
    mid = get_engine("torch")(cfg, (0, 4), dtype="bfloat16")
    mid.submit(StageWork(1, "prompt", 0, 4, torch.arange(6, dtype=torch.int32), 9))
    (h,) = mid.step()
    hdr, t = decode(encode({"type": "x", "src": 0}, h.payload))
    assert t.dtype == torch.bfloat16 and t.shape == (6, cfg.hidden_size)


def test_sub_cluster_parts_expand_into_runs_and_an_aggregate():
    from types import SimpleNamespace

    from helix.config.schema import validate_config
    from helix.prototype import workflow

    import yaml as _yaml

    data = _yaml.safe_load((REPO / "config/test/config.yaml").read_text())
    data["clusters"]["tiny4-l4"] = {"generator": "subcluster", "parent": "tiny4", "gpu": "L4"}
    run = dict(
        data["experiments"]["proto_test"]["prototypes"][0],
        cluster="tiny4",
        scheduler="random",
        mode="online",
        rate_tps=100,
        parts={"tiny4-t4": {"rate_tps": 50, "layout": "t4.yaml"}, "tiny4-l4": {}},
    )
    data["experiments"]["proto_test"]["prototypes"].append(run)
    cfg = validate_config(data)
    names = workflow.targets(cfg)
    assert "results/proto/tiny4-t4/tiny-llama/manual/random/online/metrics.json" in names
    assert "results/proto/tiny4/tiny-llama/manual/random/online/metrics.json" in names
    inputs, spec, gpus = workflow.make_functions(cfg)
    wc = SimpleNamespace(
        cluster="tiny4", model="tiny-llama", method="manual", scheduler="random", mode="online"
    )
    assert inputs(wc)["part_events"] == [
        "results/proto/tiny4-t4/tiny-llama/manual/random/online/events.csv",
        "results/proto/tiny4-l4/tiny-llama/manual/random/online/events.csv",
    ]
    part = SimpleNamespace(**dict(vars(wc), cluster="tiny4-t4"))
    assert (
        spec(part)["rate_tps"] == 50 and spec(part)["parts"] is None and inputs(part)["layout"] == "t4.yaml"
    )
    data["experiments"]["proto_test"]["prototypes"][-1]["parts"] = {"tiny4": {}}
    with pytest.raises(HelixInputError, match="same results path"):
        workflow.runs(validate_config(data))
    data["experiments"]["proto_test"]["prototypes"][-1]["parts"] = {"nowhere": {}}
    with pytest.raises(HelixInputError, match="parts: unknown cluster 'nowhere'"):
        validate_config(data)
