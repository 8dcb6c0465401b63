"""No message can end a prototype process: every field is checked, a bad message is dropped and counted.

Workers and the host are built in-process (real sockets, real engine, no peers) and fed messages
directly through the same entry points their loops use (``Worker.on_data``, ``Worker.on_broadcast``,
``Host.on_control``, the host's token path). Hypothesis generates malformed messages from a valid
one: each must be dropped with exactly one count and raise nothing. The live-process version (a
real worker getting garbage, a forged host message and an out-of-vocabulary token mid-run, and
still serving) is in test_proto_run.py.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("zmq")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from helix.layout import Layout  # noqa: E402
from helix.prototype.sysconfig import build_system_config  # noqa: E402
from helix.prototype.transport import encode, seal  # noqa: E402

VOCAB, HIDDEN, POS = 97, 32, 64
MODEL = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": 64,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": VOCAB,
    "max_position_embeddings": POS,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
}
# a [0,2) and b [0,3) start; c [2,4) continues a, and b partially ([3,4)): c has two in-neighbours.
LAYOUT = Layout(4, {"a": (0, 2), "b": (0, 3), "c": (2, 4), "d": (3, 4)})
FAST = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from helix.prototype.worker import Worker

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("msgs")
    (d / "model.json").write_text(json.dumps(MODEL))
    cfg = build_system_config(LAYOUT)
    cfg.save(d / "system.yaml")
    ids = {n.name: n.id for n in cfg.workers}

    def make(name):
        args = argparse.Namespace(
            system_config=str(d / "system.yaml"),
            node_id=ids[name],
            model_config=str(d / "model.json"),
            model_name="t",
            engine="torch",
            scheduler="helix",
            device="cpu",
            dtype="float32",
            seed=0,
            threads=1,
            orphan_timeout_s=15.0,
            checkpoint=None,
        )
        return Worker(args)

    workers = {"a": make("a"), "c": make("c")}
    yield cfg, ids, workers
    for w in workers.values():
        w.close()


def _valid(cfg, ids, target: str, rid: int = 1):
    """A valid prompt message for worker a (tokens from the host) or c (hidden states from a)."""
    a, c = ids["a"], ids["c"]
    route = [[a, 0, 2], [c, 2, 4]]
    if target == "a":
        header = {
            "type": "prompt",
            "src": 0,
            "rid": rid,
            "max_tokens": 12,
            "context": 0,
            "stage": 0,
            "route": route,
            "t": 1.0,
            "hops": [],
        }
        return header, torch.tensor([3, 5, 7, 11, 13], dtype=torch.int32), cfg.key_of(0)
    header = {
        "type": "prompt",
        "src": a,
        "rid": rid,
        "max_tokens": 12,
        "context": 0,
        "stage": 1,
        "route": route,
        "t": 1.0,
        "hops": [2.0],
    }
    return header, torch.randn(5, HIDDEN), cfg.key_of(a)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
BIG = st.integers(min_value=2**53 + 1, max_value=2**70)


def _bad_route(ids):
    a, b, c, d = ids["a"], ids["b"], ids["c"], ids["d"]
    return st.one_of(
        JUNK.filter(lambda x: not isinstance(x, list) or not x or not all(isinstance(s, list) for s in x)),
        st.just([]),
        st.just([[a, 0]]),
        st.just([[a, 0, 2, 9]]),
        st.just([[a, 0.0, 2]]),
        st.just([[True, 0, 2]]),
        st.just([[a, 1, 2], [c, 2, 4]]),  # does not start at layer 0
        st.just([[a, 0, 3], [c, 3, 4]]),  # beyond a's held layers
        st.just([[a, 0, 2], [c, 3, 4]]),  # gap
        st.just([[a, 0, 2], [d, 2, 4]]),  # d does not hold layer 2
        st.just([[a, 0, 2], [c, 2, 4], [d, 4, 5]]),  # past L
        st.just([[b, 0, 3], [c, 3, 4]]),  # not this worker's stage (for a) / not from a (for c)
        st.just([[a, 0, 2], [b, 2, 3]]),  # planned past a but not to L (for a) / not for c
        st.lists(st.lists(st.integers(-3, 9), min_size=3, max_size=3), min_size=1, max_size=4).filter(
            lambda r: r[0][:2] != [a, 0] or len(r) > 1 and r[1][0] not in (b, c)
        ),
        st.integers(min_value=9, max_value=10**6).map(lambda n: [[n, 0, 2]]),
    )


def _mutations(cfg, ids, target):
    """Strategies of (header, tensor, key, frames-transform) that no check may let through."""
    header, tensor, key = _valid(cfg, ids, target)
    n = tensor.shape[0]
    bad_fields = {
        "type": st.one_of(JUNK, st.text(max_size=8).filter(lambda t: t not in ("prompt", "decode"))),
        "rid": st.one_of(
            JUNK.filter(lambda x: not (isinstance(x, int) and not isinstance(x, bool))),
            st.integers(max_value=-1),
            BIG,
        ),
        "max_tokens": st.one_of(
            JUNK.filter(lambda x: not isinstance(x, int) or isinstance(x, bool)),
            st.integers(max_value=n),
            st.integers(min_value=POS + 1),
        ),
        "context": st.one_of(
            JUNK.filter(lambda x: x != 0 or isinstance(x, bool)), st.integers().filter(lambda x: x != 0)
        ),
        "stage": st.one_of(
            JUNK.filter(lambda x: not isinstance(x, int) or isinstance(x, bool)),
            st.integers().filter(lambda x: x != header["stage"]),
        ),
        "route": _bad_route(ids),
        "hops": st.one_of(
            JUNK.filter(lambda x: not isinstance(x, list) or len(x) != header["stage"]),
            st.lists(st.floats(allow_nan=False), min_size=header["stage"] + 1, max_size=4),
            st.just(["x"] * header["stage"] if header["stage"] else [1.0]),
        ),
        "t": st.one_of(
            st.text(max_size=3), st.none(), st.lists(st.integers(), max_size=2), st.just(math.inf)
        ),
        "fb": st.one_of(
            st.text(max_size=3),
            st.lists(st.lists(JUNK, min_size=0, max_size=2), min_size=1, max_size=2),
            st.just([[1, 2, "slow"]]),
        ),
    }
    field_bad = st.sampled_from(sorted(bad_fields)).flatmap(
        lambda f: bad_fields[f].map(lambda v: ("set", f, v))
    )
    missing = st.sampled_from(["type", "src", "rid", "max_tokens", "context", "stage", "route"]).map(
        lambda f: ("del", f, None)
    )
    extra = (
        st.text(min_size=1, max_size=6)
        .filter(lambda k: k not in header and k not in ("dtype", "shape"))
        .map(lambda k: ("set", k, 1))
    )
    if target == "a":  # token ids: outside the vocabulary (the old IndexError), wrong dtype/shape/length
        payloads = st.one_of(
            st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=6)
            .flatmap(
                lambda ids_: st.integers(0, len(ids_) - 1).flatmap(
                    lambda i: st.one_of(st.integers(VOCAB, 2**31 - 1), st.integers(-(2**31), -1)).map(
                        lambda bad: ids_[:i] + [bad] + ids_[i + 1 :]
                    )
                )
            )
            .map(lambda v: torch.tensor(v, dtype=torch.int32)),
            st.just(torch.zeros(0, dtype=torch.int32)),
            st.just(torch.zeros(12, dtype=torch.int32)),  # prompt as long as max_tokens
            st.just(torch.zeros(3, dtype=torch.int64)),
            st.just(torch.zeros(3, dtype=torch.float32)),
            st.just(torch.zeros(2, 2, dtype=torch.int32)),
        )
    else:
        payloads = st.one_of(
            st.just(torch.randn(5, HIDDEN + 1)),
            st.just(torch.randn(5 * HIDDEN)),
            st.just(torch.randn(5, HIDDEN).half()),
            st.just(torch.arange(5, dtype=torch.int32)),
            st.just(torch.zeros(0, HIDDEN)),
            st.just(torch.zeros(12, HIDDEN)),
            st.just(torch.full((5, HIDDEN), float("nan"))),
            st.just(torch.full((5, HIDDEN), float("inf"))),
        )
    payload = payloads.map(lambda t: ("payload", None, t))
    node_ids = [0] + [nd.id for nd in cfg.workers]
    spoof = st.one_of(
        st.sampled_from([i for i in node_ids if i != header["src"]]).map(
            lambda s: ("spoof_src", s, None)
        ),  # claims another node
        st.binary(min_size=1, max_size=32).map(lambda k: ("key", None, k)),  # not the sender's key
        st.sampled_from(node_ids + [99]).map(
            lambda s: ("signed_as", s, None)
        ),  # really signed by s, claims s
    )
    frames = st.one_of(
        st.lists(st.binary(max_size=40), max_size=5).map(lambda f: ("frames", None, f)),
        st.binary(min_size=1, max_size=8).map(lambda b: ("tamper", None, b)),
        st.sampled_from(["dtype", "shape"]).flatmap(lambda k: JUNK.map(lambda v: ("desc", k, v))),
    )
    return header, tensor, key, st.one_of(field_bad, missing, extra, payload, spoof, frames)


def _apply(cfg, ids, target, header, tensor, key, mutation):
    kind, name, value = mutation
    h, t, k = dict(header), tensor, key
    if kind == "set":
        h[name] = value
    elif kind == "del":
        h.pop(name)
    elif kind == "payload":
        t = value
    elif kind == "spoof_src":
        h["src"] = name  # still signed with the real sender's key
    elif kind == "key":
        k = value
    elif kind == "signed_as":
        if name == header["src"]:
            name = 99  # the real sender is not a spoof: pick a node that does not exist
        h["src"] = name
        k = cfg.key_of(name) if name in ids.values() or name == 0 else b"some key"
        if name == ids["b"] and target == "c":
            pass  # b is an in-neighbour of c but not the stage before: wrong_src
    frames = encode(h, t, key=k)
    if kind == "frames":
        return value
    if kind == "tamper":
        return [frames[0], frames[1] + value, frames[2]]
    if kind == "desc":
        hh = json.loads(frames[0])
        hh[name] = value
        raw = json.dumps(hh).encode()
        from helix.prototype.transport import mac

        return [raw, frames[1], mac(k, raw, frames[1])]
    return frames


@pytest.mark.parametrize("target", ["a", "c"])
def test_a_valid_message_is_accepted_and_served(deployment, target):
    cfg, ids, workers = deployment
    w = workers[target]
    before = Counter(w.inbox.dropped)
    header, tensor, key = _valid(cfg, ids, target, rid=7)
    assert w.on_data(encode(header, tensor, key=key)) is True
    assert w.inbox.dropped == before
    outs = w.engine.step()
    assert len(outs) == 1 and outs[0].error is None
    w.engine.free(7)


@pytest.mark.parametrize("target", ["a", "c"])
def test_a_batch_is_checked_message_by_message(deployment, target):
    """Several messages in one multipart send (how nodes send a step's outputs): each valid one is
    queued, each bad one dropped and counted on its own; a frame count that is not a multiple of 3
    is one malformed drop."""
    cfg, ids, workers = deployment
    w = workers[target]
    header, tensor, key = _valid(cfg, ids, target)
    good = [encode(dict(header, rid=r), tensor, key=key) for r in (21, 22)]
    forged = encode(dict(header, rid=23), tensor, key=b"not the key")
    before = Counter(w.inbox.dropped)
    assert w.on_data(good[0] + forged + good[1]) is False
    assert sorted(x.rid for x in w.engine.queue) == [21, 22]
    assert w.inbox.dropped - before == Counter(bad_mac=1)
    assert w.on_data(good[0] + [b"x"]) is False and w.inbox.dropped - before == Counter(
        bad_mac=1, malformed=1
    )
    assert len(w.engine.queue) == 2  # a broken batch queues nothing
    outs = w.engine.step()
    assert [o.error for o in outs] == [None, None]
    for r in (21, 22):
        w.engine.free(r)


@pytest.mark.parametrize("target", ["a", "c"])
def test_malformed_messages_are_dropped_and_counted_never_raised(deployment, target):
    """Hypothesis: 600 malformed variants of a valid message per worker; each dropped, counted once."""
    cfg, ids, workers = deployment
    w = workers[target]
    header, tensor, key, mutations = _mutations(cfg, ids, target)
    seen = Counter()

    @FAST
    @given(mutations)
    def check(mutation):
        frames = _apply(cfg, ids, target, header, tensor, key, mutation)
        before = sum(w.inbox.dropped.values())
        errors = dict(w.errors)
        assert w.on_data(frames) is False, mutation
        assert sum(w.inbox.dropped.values()) == before + 1, mutation
        assert dict(w.errors) == errors and not w.engine.queue
        seen[mutation[0]] += 1

    check()
    w.step()  # nothing queued, nothing to send, nothing raised
    assert sum(seen.values()) >= 600 and len(seen) >= 8
    reasons = set(w.inbox.dropped)
    assert {"bad_mac", "malformed", "bad_route", "bad_length", "bad_payload"} <= reasons
    assert ("bad_token" in reasons) == (target == "a")
    assert "wrong_src" in reasons or target == "a"


def test_out_of_vocabulary_token_from_the_host_is_dropped_not_an_index_error(deployment):
    """The reported crash: a message signed as the host with a token id past the vocabulary. The
    embedding would raise IndexError on it; the worker drops it, counts it, and serves on."""
    from helix.prototype.engines import StageWork

    cfg, ids, workers = deployment
    w = workers["a"]
    header, _, key = _valid(cfg, ids, "a", rid=11)
    bad = torch.tensor([1, 2, VOCAB + 5], dtype=torch.int32)
    with pytest.raises(IndexError):  # what an unchecked payload does to the embedding
        w.engine.embed(bad)
    before = w.inbox.dropped["bad_token"]
    assert w.on_data(encode(header, bad, key=key)) is False
    assert w.inbox.dropped["bad_token"] == before + 1
    # an engine fault that got past the checks anyway fails that request only
    w.engine.queue.append(StageWork(12, "prompt", 0, 2, bad, 12, 0, dict(header, rid=12)))
    w.engine.submit(
        StageWork(13, "prompt", 0, 2, torch.tensor([1, 2], dtype=torch.int32), 12, 0, dict(header, rid=13))
    )
    outs = {o.work.rid: o for o in w.engine.step()}
    assert "IndexError" in outs[12].error and outs[13].error is None
    assert 12 not in w.engine.caches
    w.engine.free(13)
    # a valid prompt still goes through
    assert w.on_data(encode(dict(header, rid=14), torch.tensor([1, 2, 3], dtype=torch.int32), key=key))
    w.engine.step()
    w.engine.free(14)


def test_bad_broadcasts_are_counted_and_ignored(deployment):
    cfg, ids, workers = deployment
    w = workers["c"]
    host_key = cfg.key_of(0)
    bad = [
        seal({"type": "dead", "nodes": ["x"]}, host_key),  # int("x") used to raise
        seal({"type": "abort", "rids": [None]}, host_key),
        seal({"type": "abort", "rids": [1]}, b"wrong key"),
        seal({"type": "stop"}, None),
        [b"{", b""],
        [b"only"],
        seal({"type": "reboot"}, host_key),
    ]
    for frames in bad:
        w.on_broadcast(frames)
    assert w.errors["bad_broadcast"] == len(bad) and w.running and not w.dead
    w.on_broadcast(seal({"type": "dead", "nodes": [ids["d"]]}, host_key))
    assert w.dead == {ids["d"]}


@pytest.fixture(scope="module")
def host(deployment):
    from helix.prototype.host import Host, Request
    from helix.prototype.settings import ProtoRunSpec

    cfg, ids, _ = deployment
    spec = ProtoRunSpec(cluster="c", model="t", method="m", scheduler="helix", mode="online", rate_tps=1)
    h = Host(cfg, spec, VOCAB, None, max_position=POS)
    route = [[ids["a"], 0, 2], [ids["c"], 2, 4]]
    h.requests[5] = Request(5, 5, 4, [1, 2, 3, 4, 5], route=route, phase="decode", tokens=[9])
    yield h, route
    h.close()


def test_host_drops_malformed_token_and_control_messages(host, deployment):
    """Hypothesis on the host's two inputs: tokens coming back and workers' control messages."""
    h, route = host
    cfg, ids, _ = deployment
    c = ids["c"]
    good = {
        "type": "decode",
        "src": c,
        "rid": 5,
        "max_tokens": 9,
        "context": 5,
        "stage": 2,
        "route": route,
        "t": 1.0,
        "hops": [1.0, 2.0],
    }
    tok = torch.tensor([3], dtype=torch.int32)
    req = h.requests[5]
    token_bad = st.one_of(
        st.sampled_from(["type", "rid", "stage", "route", "hops", "src"]).flatmap(
            lambda f: JUNK.map(lambda v: ("set", f, v))
        ),
        st.just(("set", "route", [[ids["b"], 0, 3], [ids["d"], 3, 4]])),  # not the request's route
        st.just(("set", "stage", 1)),
        st.one_of(st.integers(VOCAB, 2**31 - 1), st.integers(-(2**31), -1)).map(
            lambda v: ("tok", None, torch.tensor([v], dtype=torch.int32))
        ),
        st.just(("tok", None, torch.tensor([1, 2], dtype=torch.int32))),
        st.just(("tok", None, torch.tensor([1.0]))),
        st.binary(min_size=1, max_size=16).map(lambda k: ("key", None, k)),
        st.just(("set", "rid", 6)),  # no such request
    )

    @FAST
    @given(token_bad)
    def check_token(mutation):
        kind, name, value = mutation
        hdr, t, k = dict(good), tok, cfg.key_of(c)
        if kind == "set":
            hdr[name] = value
        elif kind == "tok":
            t = value
        else:
            k = value
        if hdr == good and kind == "set" or name == "hops" and isinstance(value, list) and len(value) == 2:
            return  # unchanged, or two numbers: valid hops
        before = sum(h.inbox.dropped.values())
        got = h.inbox.check(encode(hdr, t, key=k))
        if got is not None:
            assert h._on_token(*got, 1.0) is None
        assert sum(h.inbox.dropped.values()) == before + 1, mutation
        assert req.status == "running" and req.tokens == [9]

    check_token()

    control_bad = st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["hb", "bye", "fail", "fatal", "ready", "x"]),
                "src": st.one_of(JUNK, st.integers(-2, 9)),
                "rid": JUNK,
                "dropped": JUNK,
                "errors": JUNK,
                "cached": JUNK,
                "reason": JUNK,
            }
        ),
    )

    @FAST
    @given(control_bad, st.booleans())
    def check_control(msg, right_key):
        src = msg.get("src")
        valid_src = isinstance(src, int) and not isinstance(src, bool) and 1 <= src < len(cfg.nodes)
        key = cfg.key_of(src) if right_key and valid_src else b"forged"
        before = sum(h.dropped.values())
        ok = h.on_control(seal(msg, key), 0.0, on_fail=lambda rid, reason: None)
        if not ok:
            assert sum(h.dropped.values()) == before + 1
        else:  # a message that passes is well-formed from a real worker with its key
            assert right_key and valid_src

    check_control()
    assert req.status == "running" and {"bad_mac", "bad_token", "bad_route"} <= set(h.inbox.dropped)


def _recv(w, timeout_ms: int = 5000) -> list[bytes]:
    assert w.inbox.sock.poll(timeout_ms), "nothing arrived"
    return w.inbox.sock.recv_multipart()


def test_decode_loopback_last_stage_feeds_the_first(deployment):
    """With ``loop`` on a request, the last stage sends the next decode straight to the route's first
    stage, which accepts it only from that node; the host-less decode runs on the KV the prompt left."""
    cfg, ids, workers = deployment
    a, c = workers["a"], workers["c"]
    route = [[ids["a"], 0, 2], [ids["c"], 2, 4]]
    header = {
        "type": "prompt",
        "src": 0,
        "rid": 31,
        "max_tokens": 8,
        "context": 0,
        "stage": 0,
        "route": route,
        "t": 1.0,
        "hops": [],
        "loop": [],
    }
    assert a.on_data(encode(header, torch.tensor([3, 5, 7, 11, 13], dtype=torch.int32), key=cfg.key_of(0)))
    a.step()  # hidden states of the prompt -> c
    assert c.on_data(_recv(c))
    c.step()  # the token -> host (nobody listening here), the next decode -> a
    got = a.inbox.check_batch(_recv(a))
    assert len(got) == 1 and got[0] is not None
    nd, tok = got[0]
    assert (nd["type"], nd["src"], nd["stage"], nd["context"], nd["hops"], nd["loop"]) == (
        "decode",
        ids["c"],
        0,
        5,
        [],
        [],
    )
    before = sum(a.inbox.dropped.values())
    assert a._accept(nd, tok) and a.engine.queue[0].context == 5
    # the same decode claiming another sender, without ``loop``, or with a bad ``loop`` is dropped
    key_c, key_d = cfg.key_of(ids["c"]), cfg.key_of(ids["d"])  # d also ends at L: a loop source of a
    bad = [
        (dict(nd, src=ids["d"]), key_d, "wrong_src"),
        ({k: v for k, v in nd.items() if k != "loop"}, key_c, "wrong_src"),
        (dict(nd, loop=[VOCAB]), key_c, "bad_loop"),
        (dict(nd, loop="x"), key_c, "bad_loop"),
    ]
    for h, k, reason in bad:
        n = a.inbox.dropped[reason]
        assert (
            a.on_data(encode({x: v for x, v in h.items() if x not in ("dtype", "shape")}, tok, key=k))
            is False
        )
        assert a.inbox.dropped[reason] == n + 1, reason
    assert sum(a.inbox.dropped.values()) == before + len(bad)
    outs = a.engine.step()
    assert [o.error for o in outs] == [None]
    a.engine.free(31)
    c.engine.free(31)


def test_no_loopback_after_the_last_position_or_a_stop_token(deployment):
    """The last stage sends no next decode when the request ends: its last position or a stop token."""
    cfg, ids, workers = deployment
    c = workers["c"]
    route = [[ids["a"], 0, 2], [ids["c"], 2, 4]]
    h = {
        "type": "prompt",
        "src": ids["a"],
        "rid": 41,
        "max_tokens": 12,
        "context": 0,
        "stage": 1,
        "route": route,
        "t": 1.0,
        "hops": [2.0],
        "loop": [],
    }
    assert c.on_data(encode(h, torch.randn(5, HIDDEN), key=cfg.key_of(ids["a"])))
    out = c.engine.step()[0]
    tok = int(out.payload[0])
    assert c._next_decode(dict(out.work.meta, hops=[2.0, 3.0]), out)["context"] == 5
    assert c._next_decode(dict(out.work.meta, hops=[2.0, 3.0], loop=[tok]), out) is None  # a stop token
    assert (
        c._next_decode({k: v for k, v in out.work.meta.items() if k != "loop"}, out) is None
    )  # no loop-back asked
    c.engine.free(41)
    h = dict(h, rid=43, max_tokens=7, context=5, type="decode", loop=[])  # position 5 of 7: the last token
    c.engine.caches[43] = {}
    from helix.prototype.engines import StageOutput, StageWork

    out = StageOutput(
        StageWork(43, "decode", 2, 4, torch.randn(1, HIDDEN), 7, 5, h),
        torch.tensor([1], dtype=torch.int32),
        True,
    )
    assert c._next_decode(dict(h, hops=[2.0, 3.0]), out) is None
    c.engine.free(43)
