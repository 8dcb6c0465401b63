"""Wire format and sockets: three-frame messages, [JSON header, raw tensor bytes, MAC], batched.

JSON instead of the paper's packed C struct (docs/design/prototype.md s3): the route has no fixed maximum
length and the header stays readable in a packet dump; at a few hundred bytes it is noise next to
the activations. Data travels over PUSH/PULL (one PULL per node at its own port; senders connect),
which, unlike the paper's PUB/SUB, never drops a message sent before the peer was up, so no Init
flood is needed. Anything that does not decode, or comes from a node that is not an in-neighbour,
is dropped and counted by the receiver (``Inbox.dropped``), never raised.

Batching: everything a node sends to one peer in one step (a worker's outputs of one engine step,
the host's next decodes after a drain) travels as one ZeroMQ multipart message of 3k frames, k
whole messages back to back (``Outbox.send_many``; ``split`` on the receiving side). Each of the k
keeps its own header and MAC and is checked on its own, so batching changes no guarantee; it saves
the per-send cost (a wake-up of ZeroMQ's I/O thread on both sides, ~0.2 ms on a loaded 2-core box)
for all but one of them.

Source authentication: ZeroMQ does not tell a PULL socket who sent a message, and anything that can
reach a port can push to it, so the ``src`` field alone proves nothing. Every node has a secret key
in the system config (``SystemConfig.keys``; never written to a run's outputs) and appends a keyed
BLAKE2b MAC of header and payload; a receiver checks it with the key of the node the header claims
to come from, so a message that claims a source it did not come from is dropped (``bad_mac``).
Control and broadcast messages carry the same MAC (``seal`` / ``unseal``). What the fields *mean*
(ids, ranges, token ids against the vocabulary, shapes against the model) is checked by the
receiver in ``helix.prototype.messages``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter

import torch
import zmq

DTYPES = {
    "int32": torch.int32,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
DATA_TYPES = {"prompt", "decode"}
REQUIRED = {"type", "src", "rid", "max_tokens", "context", "stage", "route"}
MAX_HEADER = 1 << 16  # bytes; a header is a few hundred
MAX_BATCH = 1 << 16  # messages in one multipart send


def mac(key: bytes | None, *parts: bytes) -> bytes:
    """Keyed BLAKE2b of the parts (length-prefixed, so [a, bc] and [ab, c] differ); b"" without key."""
    if not key:
        return b""
    h = hashlib.blake2b(key=key, digest_size=16)
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.digest()


def seal(msg: dict, key: bytes | None) -> list[bytes]:
    """A control/broadcast message: [JSON, MAC]."""
    raw = json.dumps(msg).encode()
    return [raw, mac(key, raw)]


def unseal(frames: list[bytes], keys: dict[int, bytes] | None, src: int | None = None) -> dict:
    """Parse and authenticate a control/broadcast message; ``Malformed`` on anything wrong.
    ``src``: the only sender this socket can hear (broadcasts: the host); else the header's claim."""
    if len(frames) != 2 or len(frames[0]) > MAX_HEADER:
        raise Malformed("expected [JSON, MAC]")
    try:
        msg = json.loads(frames[0])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Malformed("not JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise Malformed("needs a string 'type'")
    if keys is not None:
        who = msg.get("src") if src is None else src
        key = keys.get(who) if isinstance(who, int) and not isinstance(who, bool) else None
        if key is None or not hmac.compare_digest(mac(key, frames[0]), bytes(frames[1])):
            raise Malformed("bad MAC")
    return msg


class Malformed(ValueError):
    pass


class BadMac(Malformed):
    """The MAC is not the claimed sender's: a forged or corrupted message."""


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def encode(header: dict, tensor: torch.Tensor | None = None, key: bytes | None = None) -> list[bytes]:
    if tensor is None:
        raw_h = json.dumps(header).encode()
        return [raw_h, b"", mac(key, raw_h, b"")]
    t = tensor.detach().contiguous().cpu()
    header = dict(header, dtype=str(t.dtype).removeprefix("torch."), shape=list(t.shape))
    raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    raw_h = json.dumps(header).encode()
    return [raw_h, raw, mac(key, raw_h, raw)]


def decode(frames: list[bytes], keys: dict[int, bytes] | None = None) -> tuple[dict, torch.Tensor | None]:
    """Parse a message; raise ``Malformed`` on anything unexpected (the caller counts and drops).
    With ``keys`` (node id -> key) the MAC must match the key of the claimed ``src``."""
    if len(frames) != 3:
        raise Malformed(f"expected 3 frames, got {len(frames)}")
    if len(frames[0]) > MAX_HEADER:
        raise Malformed("header too long")
    try:
        header = json.loads(frames[0])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"header is not JSON: {exc}") from None
    if (
        not isinstance(header, dict)
        or not isinstance(header.get("type"), str)
        or not _is_int(header.get("src"))
    ):
        raise Malformed("header needs a string 'type' and an integer 'src'")
    if keys is not None:
        key = keys.get(header["src"])
        if key is None or not hmac.compare_digest(
            mac(key, bytes(frames[0]), bytes(frames[1])), bytes(frames[2])
        ):
            raise BadMac(f"MAC does not match the key of node {header['src']}")
    if header["type"] in DATA_TYPES:
        missing = REQUIRED - set(header)
        if missing:
            raise Malformed(f"missing header fields {sorted(missing)}")
        route = header["route"]
        if not isinstance(route, list):
            raise Malformed("route must be a list of [node, start, end]")
        for s in route:  # a loop, not nested generators: this runs for every message
            if (
                not isinstance(s, list)
                or len(s) != 3
                or not isinstance(s[0], int)
                or not isinstance(s[1], int)
                or not isinstance(s[2], int)
            ):
                raise Malformed("route must be a list of [node, start, end]")
    if "dtype" not in header:
        return header, None
    dt = DTYPES.get(header["dtype"]) if isinstance(header["dtype"], str) else None
    shape = header.get("shape")
    if (
        dt is None
        or not isinstance(shape, list)
        or not all(_is_int(x) and x >= 0 for x in shape)
        or len(shape) > 4
    ):
        raise Malformed(f"bad tensor description {header.get('dtype')!r} {shape!r}")
    try:
        if dt == torch.bfloat16:
            t = torch.frombuffer(bytearray(frames[1]), dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(bytearray(frames[1]), dtype=dt) if frames[1] else torch.zeros(0, dtype=dt)
        return header, t.reshape(shape)
    except (RuntimeError, ValueError) as exc:
        raise Malformed(f"payload does not match dtype/shape: {exc}") from None


def split(frames: list) -> list[list]:
    """A received multipart message -> its 3-frame messages.

    ``Malformed`` if it is not 1..MAX_BATCH of them.
    """
    n = len(frames)
    if n == 0 or n % 3 or n // 3 > MAX_BATCH:
        raise Malformed(f"expected a multiple of 3 frames, got {n}")
    return [frames[i : i + 3] for i in range(0, n, 3)]


class Inbox:
    """A node's PULL socket: yields valid messages from known peers, counts the rest."""

    def __init__(
        self, ctx: zmq.Context, endpoint: str, peers: set[int], keys: dict[int, bytes] | None = None
    ):
        self.sock = ctx.socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 1 << 31)
        self.sock.bind(endpoint)
        self.peers = set(peers)
        self.keys = keys
        self.dropped: Counter = Counter()

    def check(self, frames: list[bytes]):
        """One message -> (header, tensor), or None after counting why it was dropped."""
        try:
            header, tensor = decode(frames, self.keys)
        except BadMac:
            self.dropped["bad_mac"] += 1
            return None
        except Malformed:
            self.dropped["malformed"] += 1
            return None
        if header["src"] not in self.peers:
            self.dropped["unknown_peer"] += 1
            return None
        return header, tensor

    def check_batch(self, frames: list[bytes]) -> list:
        """A multipart message of k messages -> one ``check`` result per message (None: dropped);
        a frame count that is not a multiple of 3 is one ``malformed`` drop."""
        try:
            parts = split(frames)
        except Malformed:
            self.dropped["malformed"] += 1
            return [None]
        return [self.check(p) for p in parts]

    def drain(self, limit: int = 10_000):
        out = []
        for _ in range(limit):
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            out.extend(got for got in self.check_batch(frames) if got is not None)
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
        return self.send_many(nid, [frames])

    def send_many(self, nid: int, messages: list[list[bytes]]) -> bool:
        """Messages (each from ``encode``) to one peer in one multipart send; all or none go."""
        frames = [f for m in messages for f in m]
        try:
            # Zero-copy only pays for big payloads: below ~1 MB pyzmq's frame tracking (a GC thread
            # and an inproc socket per frame) cost milliseconds per message on a loaded 2-core box.
            big = max(len(m[1]) for m in messages) >= (1 << 20)
            self.socks[nid].send_multipart(frames, zmq.NOBLOCK, copy=not big)
            return True
        except (zmq.Again, KeyError):
            self.failed[nid] += 1
            return False

    def close(self) -> None:
        for s in self.socks.values():
            s.close(0)


class NodeSockets:
    """What the host and a worker share: a ZeroMQ context with a data ``inbox``, an ``outbox``, a
    ``control`` socket (workers -> host) and a ``bcast`` socket (host -> workers); ``close`` ends them."""

    ctx: zmq.Context
    inbox: Inbox
    outbox: Outbox
    control: zmq.Socket
    bcast: zmq.Socket

    def close(self) -> None:
        self.inbox.close()
        self.outbox.close()
        self.control.close(0)
        self.bcast.close(0)
        self.ctx.term()
