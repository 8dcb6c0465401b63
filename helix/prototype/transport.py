"""Wire format and sockets: two-frame ZeroMQ messages, [JSON header, raw tensor bytes].

JSON instead of the paper's packed C struct (prototype.md s3): the route has no fixed maximum
length and the header stays readable in a packet dump; at a few hundred bytes it is noise next to
the activations. Data travels over PUSH/PULL (one PULL per node at its own port; senders connect),
which, unlike the paper's PUB/SUB, never drops a message sent before the peer was up, so no Init
flood is needed. Anything that does not decode, or comes from a node that is not an in-neighbour,
is dropped and counted by the receiver (``Inbox.dropped``), never raised.
"""

from __future__ import annotations

import json
from collections import Counter

import torch
import zmq

DTYPES = {"int32": torch.int32, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DATA_TYPES = {"prompt", "decode"}
REQUIRED = {"type", "src", "rid", "max_tokens", "context", "stage", "route"}


class Malformed(ValueError):
    pass


def encode(header: dict, tensor: torch.Tensor | None = None) -> list[bytes]:
    if tensor is None:
        return [json.dumps(header).encode(), b""]
    t = tensor.detach().contiguous().cpu()
    header = dict(header, dtype=str(t.dtype).removeprefix("torch."), shape=list(t.shape))
    raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    return [json.dumps(header).encode(), raw]


def decode(frames: list[bytes]) -> tuple[dict, torch.Tensor | None]:
    """Parse a message; raise ``Malformed`` on anything unexpected (the caller counts and drops)."""
    if len(frames) != 2:
        raise Malformed(f"expected 2 frames, got {len(frames)}")
    try:
        header = json.loads(frames[0])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str) or not isinstance(header.get("src"), int):
        raise Malformed("header needs a string 'type' and an integer 'src'")
    if header["type"] in DATA_TYPES:
        missing = REQUIRED - set(header)
        if missing:
            raise Malformed(f"missing header fields {sorted(missing)}")
        route = header["route"]
        if not isinstance(route, list) or not all(isinstance(s, list) and len(s) == 3 and all(isinstance(x, int) for x in s) for s in route):
            raise Malformed("route must be a list of [node, start, end]")
    if "dtype" not in header:
        return header, None
    dt = DTYPES.get(header["dtype"])
    shape = header.get("shape")
    if dt is None or not isinstance(shape, list):
        raise Malformed(f"bad tensor description {header.get('dtype')!r} {shape!r}")
    try:
        if dt == torch.bfloat16:
            t = torch.frombuffer(bytearray(frames[1]), dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(bytearray(frames[1]), dtype=dt) if frames[1] else torch.zeros(0, dtype=dt)
        return header, t.reshape(shape)
    except (RuntimeError, ValueError) as exc:
        raise Malformed(f"payload does not match dtype/shape: {exc}") from None


class Inbox:
    """A node's PULL socket: yields valid messages from known peers, counts the rest."""

    def __init__(self, ctx: zmq.Context, endpoint: str, peers: set[int]):
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)
        self.peers = set(peers)
        self.dropped: Counter = Counter()

    def drain(self, limit: int = 10_000):
        out = []
        for _ in range(limit):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                header, tensor = decode(frames)
            except Malformed:
                self.dropped["malformed"] += 1
                continue
            if header["src"] not in self.peers:
                self.dropped["unknown_peer"] += 1
                continue
            out.append((header, tensor))
        return out

    def close(self) -> None:
        self.sock.close(0)


class Outbox:
    """PUSH sockets to out-neighbours; a send that would block (peer gone, queue full) is counted."""

    def __init__(self, ctx: zmq.Context, endpoints: dict[int, str], hwm: int = 100_000):
        self.socks = {}
        for nid, ep in endpoints.items():
            s = ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, hwm)
            s.connect(ep)
            self.socks[nid] = s
        self.failed: Counter = Counter()

    def send(self, nid: int, frames: list[bytes]) -> bool:
        try:
            self.socks[nid].send_multipart(frames, zmq.NOBLOCK, copy=False)
            return True
        except (zmq.Again, KeyError):
            self.failed[nid] += 1
            return False

    def close(self) -> None:
        for s in self.socks.values():
            s.close(0)
