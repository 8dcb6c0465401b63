"""What a message must say before anyone acts on it: every field of every prototype message checked.

The transport (``transport.decode``) only proves that a message parses and that its MAC is the
claimed sender's. This module checks what the fields mean, against the system config and the
model: types (``True`` is not an id), id and length ranges, the route (contiguous from layer 0,
every stage inside its node's held range, every hop an edge of the placement graph), that the
stage being asked for is this node's and that ``src`` is the node before it on the route, token
ids against the vocabulary, payload dtype and shape against the model, lengths against the model's
positions. A failed check raises :class:`Drop` with a short counter key; the receiver counts it and
drops the message. Nothing here raises anything else, whatever the input (the Hypothesis tests in
``tests/test_proto_messages.py`` hold it to that).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from helix.prototype.sysconfig import HOST_ID, SystemConfig

MAX_ROUTE = 64  # stages; a placement graph path is at most one stage per worker
MAX_ID = 2**53  # request ids stay exact in JSON doubles
DATA_FIELDS = {
    "type",
    "src",
    "rid",
    "max_tokens",
    "context",
    "stage",
    "route",
    "t",
    "hops",
    "fb",
    "dtype",
    "shape",
    "loop",
}
MAX_STOP = 64  # stop token ids a request may carry


class Drop(Exception):
    """A message to drop; ``reason`` is the counter key, ``detail`` says what was wrong."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x: Any) -> bool:
    return (is_int(x) or isinstance(x, float)) and math.isfinite(x)


def int_field(h: dict, key: str, lo: int, hi: int) -> int:
    """h[key] as an int in [lo, hi], else Drop('bad_<key>')."""
    v = h.get(key)
    if not is_int(v) or not lo <= v <= hi:
        raise Drop(f"bad_{key}", f"{key}={v!r} not an integer in [{lo}, {hi}]")
    return v


def check_route(cfg: SystemConfig, route: Any, complete: bool) -> list[list[int]]:
    """A route [[node, start, end], ...]: starts at layer 0 on a node the host feeds, each stage a
    sub-range of its node's held layers continuing the previous one over a placement edge; with
    ``complete`` it must end at L and its last node must feed the host."""
    if not isinstance(route, list) or not 1 <= len(route) <= MAX_ROUTE:
        raise Drop("bad_route", "route must be a non-empty list")
    prev, prev_end = HOST_ID, 0
    n_nodes = len(cfg.nodes)
    for j, st in enumerate(route):
        # exact types (JSON gives int or bool; bool is not an id): checked inline, this runs for
        # every message on every hop
        if type(st) is not list or len(st) != 3:
            raise Drop("bad_route", f"stage {j} is not [node, start, end]")
        node, s, e = st
        if type(node) is not int or type(s) is not int or type(e) is not int:
            raise Drop("bad_route", f"stage {j} is not [node, start, end]")
        if not 1 <= node < n_nodes:
            raise Drop("bad_route", f"stage {j}: no worker {node}")
        held = cfg.nodes[node]
        if s != prev_end or not held.start <= s < e <= held.end:
            raise Drop(
                "bad_route",
                f"stage {j}: layers [{s}, {e}) on node {node} "
                f"holding [{held.start}, {held.end}) after layer {prev_end}",
            )
        if node not in cfg.nodes[prev].out_nodes:
            raise Drop("bad_route", f"stage {j}: no edge {prev} -> {node}")
        prev, prev_end = node, e
    if complete and (prev_end != cfg.num_layers or HOST_ID not in cfg.nodes[prev].out_nodes):
        raise Drop("bad_route", "route does not reach the last layer and the host")
    return route


def _check_times(h: dict, n: int) -> None:
    if "t" in h and not is_num(h["t"]):
        raise Drop("bad_t")
    hops = h.get("hops", [])
    if not isinstance(hops, list) or len(hops) != n or not all(is_num(x) for x in hops):
        raise Drop("bad_hops", f"hops must be {n} numbers")


def check_stage_message(
    h: dict,
    tensor: torch.Tensor | None,
    *,
    me: int,
    cfg: SystemConfig,
    vocab_size: int,
    hidden_size: int,
    max_position: int,
    dtype: torch.dtype,
) -> tuple[int, int]:
    """A prompt/decode message a worker received: returns this stage's (start, end) or raises Drop."""
    extra = set(h) - DATA_FIELDS
    if extra:
        raise Drop("unknown_field", f"fields {sorted(extra)}")
    phase = h.get("type")
    if phase not in ("prompt", "decode"):
        raise Drop("unexpected_type", repr(phase))
    int_field(h, "rid", 0, MAX_ID)
    max_tokens = int_field(h, "max_tokens", 2, max_position)
    stage = int_field(h, "stage", 0, MAX_ROUTE - 1)
    loop = check_loop(h, vocab_size)
    # the decode loop-back: the last stage of this request's (complete) route sends its next decode
    looped = stage == 0 and phase == "decode" and loop is not None and h.get("src") != HOST_ID
    route = check_route(cfg, h.get("route"), complete=looped)
    if stage >= len(route) or route[stage][0] != me:
        raise Drop("not_for_me", f"stage {stage} of {route}")
    if len(route) > stage + 1 and route[-1][2] != cfg.num_layers:
        raise Drop("bad_route", "a route planned past this stage must end at the last layer")
    if looped:
        if h.get("src") != route[-1][0]:
            raise Drop("wrong_src", f"src {h.get('src')!r} is not the last stage of the route")
    elif h.get("src") != (HOST_ID if stage == 0 else route[stage - 1][0]):
        raise Drop("wrong_src", f"src {h.get('src')!r} is not the stage before {stage}")
    if phase == "prompt":
        int_field(h, "context", 0, 0)
    else:
        int_field(h, "context", 1, max_tokens - 2)
    _check_times(h, stage)
    fb = h.get("fb", [])
    if (
        not isinstance(fb, list)
        or len(fb) > MAX_ROUTE
        or not all(
            isinstance(x, list) and len(x) == 3 and is_int(x[0]) and is_int(x[1]) and is_num(x[2]) for x in fb
        )
    ):
        raise Drop("bad_fb", "fb must be a list of [sender, receiver, seconds]")
    start, end = route[stage][1], route[stage][2]
    if tensor is None:
        raise Drop("bad_payload", "no payload")
    if start == 0:
        if tensor.dtype != torch.int32 or tensor.dim() != 1:
            raise Drop("bad_payload", f"token ids must be 1-D int32, got {tensor.dtype} {list(tensor.shape)}")
        n = tensor.shape[0]
        if n and (int(tensor.min()) < 0 or int(tensor.max()) >= vocab_size):
            raise Drop("bad_token", f"token ids outside the vocabulary [0, {vocab_size})")
    else:
        if tensor.dtype != dtype or tensor.dim() != 2 or tensor.shape[1] != hidden_size:
            raise Drop(
                "bad_payload",
                f"hidden states must be {dtype} [n, {hidden_size}], got {tensor.dtype} {list(tensor.shape)}",
            )
        n = tensor.shape[0]
        if n and not _all_finite(tensor):
            raise Drop("bad_payload", "hidden states are not finite")
    if phase == "decode" and n != 1:
        raise Drop("bad_length", f"a decode carries 1 token, got {n}")
    if phase == "prompt" and not 1 <= n <= max_tokens - 1:
        raise Drop("bad_length", f"prompt of {n} tokens with max_tokens {max_tokens}")
    return start, end


def _all_finite(t: torch.Tensor) -> bool:
    """No inf or NaN in ``t`` (numpy's check on a CPU tensor is ~3 us, torch's ~9: once per message)."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float16):
        return bool(np.isfinite(t.numpy()).all())
    return bool(torch.isfinite(t).all())


def check_loop(h: dict, vocab_size: int) -> list[int] | None:
    """The ``loop`` field (the decode loop-back is on for this request: the last stage sends the next
    decode straight to the first stage unless the token is one of these stop ids): None if absent."""
    if "loop" not in h:
        return None
    stop = h["loop"]
    if (
        not isinstance(stop, list)
        or len(stop) > MAX_STOP
        or not all(is_int(x) and 0 <= x < vocab_size for x in stop)
    ):
        raise Drop("bad_loop", f"loop must be a list of at most {MAX_STOP} token ids")
    return stop


def check_token_message(
    h: dict,
    tensor: torch.Tensor | None,
    *,
    cfg: SystemConfig,
    vocab_size: int,
    phase: str,
    route: list,
    hop_by_hop: bool,
    context: int | None = None,
) -> int:
    """A generated token the host received for a running request: returns the token or raises Drop.
    ``route``: the request's route as the host knows it (whole for helix; first hop for swarm/random);
    ``context``: the position the host expects this iteration to have run at (a token of another
    iteration is ``stale``: with the decode loop-back, iterations follow each other without the host)."""
    extra = set(h) - DATA_FIELDS
    if extra:
        raise Drop("unknown_field", f"fields {sorted(extra)}")
    if h.get("type") != phase:
        raise Drop("stale", f"{h.get('type')!r} while the request waits for its {phase}")
    if context is not None and h.get("context") != context:
        raise Drop("stale", f"context {h.get('context')!r} while the request waits for position {context}")
    got = check_route(cfg, h.get("route"), complete=True)
    if hop_by_hop and phase == "prompt":
        if got[0] != route[0]:
            raise Drop("bad_route", "first hop differs from the one the host chose")
    elif got != route:
        raise Drop("bad_route", "route differs from the request's")
    if h.get("stage") != len(got) or not is_int(h.get("stage")):
        raise Drop("bad_stage")
    if h.get("src") != got[-1][0]:
        raise Drop("wrong_src", f"src {h.get('src')!r} is not the route's last node")
    check_loop(h, vocab_size)
    _check_times(h, len(got))
    if tensor is None or tensor.dtype != torch.int32 or tensor.numel() != 1:
        raise Drop("bad_payload", "a token message carries one int32")
    tok = int(tensor.reshape(-1)[0])
    if not 0 <= tok < vocab_size:
        raise Drop("bad_token", f"token {tok} outside the vocabulary [0, {vocab_size})")
    return tok


def check_broadcast(msg: dict, n_nodes: int) -> dict:
    """A host broadcast at a worker: stop / hb / dead (node ids) / abort (request ids)."""
    kind = msg.get("type")
    if kind in ("stop", "hb"):
        return msg
    if kind == "dead":
        nodes = msg.get("nodes")
        if not isinstance(nodes, list) or not all(is_int(x) and 0 <= x < n_nodes for x in nodes):
            raise Drop("bad_broadcast", "dead needs a list of node ids")
        return msg
    if kind == "abort":
        rids = msg.get("rids")
        if (
            not isinstance(rids, list)
            or len(rids) > 100_000
            or not all(is_int(x) and 0 <= x <= MAX_ID for x in rids)
        ):
            raise Drop("bad_broadcast", "abort needs a list of request ids")
        return msg
    raise Drop("bad_broadcast", f"type {kind!r}")


def _counts(x: Any) -> bool:
    return (
        isinstance(x, dict) and len(x) <= 100 and all(isinstance(k, str) and is_int(v) for k, v in x.items())
    )


def _numbers(x: Any) -> bool:
    return (
        isinstance(x, dict) and len(x) <= 100 and all(isinstance(k, str) and is_num(v) for k, v in x.items())
    )


def check_control(msg: dict, n_nodes: int) -> dict:
    """A worker's control message at the host (after its MAC was checked against its ``src``)."""
    src = msg.get("src")
    if not is_int(src) or not 1 <= src < n_nodes:
        raise Drop("control_unknown_peer")
    kind = msg.get("type")
    if kind == "ready":
        return msg
    if kind in ("hb", "bye"):
        if (
            not _counts(msg.get("dropped", {}))
            or not _counts(msg.get("errors", {}))
            or not is_int(msg.get("cached", 0))
            or not is_num(msg.get("cpu_s", 0))
            or not _numbers(msg.get("perf", {}))
        ):
            raise Drop("control_malformed", "hb/bye counters")
        return msg
    if kind in ("fail", "fatal"):
        if kind == "fail" and not is_int(msg.get("rid")):
            raise Drop("control_malformed", "fail needs an integer rid")
        if not isinstance(msg.get("reason", ""), str):
            raise Drop("control_malformed", "reason must be text")
        return msg
    raise Drop("control_malformed", f"type {kind!r}")
