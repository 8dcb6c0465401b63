"""A worker process: one machine of the placement, its layer range, its sockets (prototype.md s1, s5).

Loop: drain the data inbox (drop malformed / unknown-peer messages, counted), queue each iteration
on the stage engine, run ``step()`` (prompts, then one batched decode pass), and send every output
to the next stage of its route, or to the host when the range ends at L (the greedy token, 4 bytes).
With swarm/random the next hop of a prompt is chosen here; decodes carry their full route. Every
0.2 s a heartbeat goes to the host (from its own thread, so long steps do not look like death);
the host's broadcasts say stop, which workers are dead, which
requests to abort. A worker whose host has been silent for ``orphan_timeout_s`` exits by itself.

Run as ``python -m helix.prototype.worker --system-config F --node-id K --model-config M ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter

import zmq

HEARTBEAT_S = 0.2


def serve_worker(args) -> int:
    import torch

    from helix.prototype.engines import StageWork, get_engine
    from helix.prototype.model import LlamaConfig
    from helix.prototype.routing import HopChooser
    from helix.prototype.sysconfig import HOST_ID, SystemConfig
    from helix.prototype.transport import Inbox, Outbox, encode

    torch.set_num_threads(max(1, args.threads))
    cfg = SystemConfig.load(args.system_config)
    me = cfg.node(args.node_id)
    model = LlamaConfig.from_json(args.model_config, args.model_name)
    L = cfg.num_layers
    ctx = zmq.Context()
    inbox = Inbox(ctx, f"tcp://{me.address}:{me.port}", set(me.in_nodes))
    outbox = Outbox(ctx, {v: cfg.endpoint(v) for v in me.out_nodes})
    control = ctx.socket(zmq.PUSH)
    control.setsockopt(zmq.LINGER, 0)
    control.connect(cfg.control_endpoint())
    bcast = ctx.socket(zmq.SUB)
    bcast.setsockopt(zmq.LINGER, 0)
    bcast.setsockopt(zmq.SUBSCRIBE, b"")
    bcast.connect(cfg.broadcast_endpoint())

    def tell_host(msg: dict) -> None:
        try:
            control.send_json(dict(msg, src=me.id), zmq.NOBLOCK)
        except zmq.Again:
            pass

    engine = get_engine(args.engine)(model, (me.start, me.end), seed=args.seed, device=args.device, dtype=args.dtype)
    chooser = HopChooser(cfg, args.scheduler, me.id, args.seed) if args.scheduler in ("swarm", "random") else None
    tell_host({"type": "ready", "pid": os.getpid()})
    poller = zmq.Poller()
    poller.register(inbox.sock, zmq.POLLIN)
    poller.register(bcast, zmq.POLLIN)
    dead: set[int] = set()
    errors: Counter = Counter()
    last_host = time.monotonic()
    running = True
    stop_hb = threading.Event()
    hb = threading.Thread(
        target=_heartbeat, args=(ctx, cfg.control_endpoint(), me.id, stop_hb, lambda: (engine.cached_requests(), dict(inbox.dropped), dict(errors))),
        daemon=True,
    )
    hb.start()
    while running:
        now = time.monotonic()
        if now - last_host > args.orphan_timeout_s:
            print(f"worker {me.id}: host silent for {args.orphan_timeout_s} s, exiting", file=sys.stderr)
            break
        poller.poll(timeout=20)
        while True:
            try:
                msg = bcast.recv_json(zmq.NOBLOCK)
            except zmq.Again:
                break
            except ValueError:
                errors["bad_broadcast"] += 1
                continue
            last_host = time.monotonic()
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "stop":
                running = False
            elif kind == "dead":
                dead.update(int(x) for x in msg.get("nodes", []))
            elif kind == "abort":
                for rid in msg.get("rids", []):
                    engine.free(int(rid))
        if not running:
            break
        for header, tensor in inbox.drain():
            if header["type"] not in ("prompt", "decode"):
                inbox.dropped["unexpected_type"] += 1
                continue
            k = header["stage"]
            route = header["route"]
            if not (0 <= k < len(route)) or route[k][0] != me.id or tensor is None:
                inbox.dropped["not_for_me"] += 1
                continue
            if chooser is not None:
                for sender, receiver, delta in header.get("fb", []):
                    if sender == me.id:
                        chooser.feedback(receiver, delta)
            _, s, e = route[k]
            work = StageWork(header["rid"], header["type"], s, e, tensor, header["max_tokens"], header["context"], header)
            try:
                engine.submit(work)
            except ValueError as exc:
                errors["rejected"] += 1
                tell_host({"type": "fail", "rid": header["rid"], "reason": str(exc)})
        try:
            outs = engine.step()
        except Exception as exc:  # an engine fault must reach the host, not hang the run
            errors["engine"] += 1
            tell_host({"type": "fatal", "reason": f"{type(exc).__name__}: {exc}"})
            raise
        for out in outs:
            h = dict(out.work.meta)
            h.pop("fb", None)
            h.pop("dtype", None)
            h.pop("shape", None)
            k = h["stage"]
            route = h["route"]
            h["hops"] = h.get("hops", []) + [time.time()]
            if out.work.end == L:
                nxt = HOST_ID
            else:
                if len(route) <= k + 1:
                    stage = chooser.choose(out.work.end, dead) if chooser is not None else None
                    if stage is None:
                        tell_host({"type": "fail", "rid": h["rid"], "reason": f"no live next hop after node {me.id}"})
                        engine.free(h["rid"])
                        continue
                    route = route + [stage]
                    h["route"] = route
                nxt = route[k + 1][0]
            h["stage"] = k + 1
            h["src"] = me.id
            if not outbox.send(nxt, encode(h, out.payload)):
                errors["send"] += 1
                tell_host({"type": "fail", "rid": h["rid"], "reason": f"cannot send to node {nxt}"})
    stop_hb.set()
    hb.join()
    tell_host({"type": "bye", "dropped": dict(inbox.dropped), "errors": dict(errors)})
    time.sleep(0.05)
    inbox.close()
    outbox.close()
    control.close(0)
    bcast.close(0)
    ctx.term()
    return 0


def _heartbeat(ctx, endpoint: str, nid: int, stop: threading.Event, state) -> None:
    """Liveness on its own thread and socket: a long engine step (torch releases the GIL) must not
    look like a dead worker; a dead process stops beating at once."""
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    while not stop.is_set():
        try:
            cached, dropped, errors = state()
        except RuntimeError:  # a counter changed size while copied: report next beat
            cached, dropped, errors = 0, {}, {}
        try:
            sock.send_json({"type": "hb", "src": nid, "cached": cached, "dropped": dropped, "errors": errors}, zmq.NOBLOCK)
        except zmq.Again:
            pass
        stop.wait(HEARTBEAT_S)
    sock.close(0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Helix prototype worker")
    p.add_argument("--system-config", required=True)
    p.add_argument("--node-id", type=int, required=True)
    p.add_argument("--model-config", required=True)
    p.add_argument("--model-name", default=None)
    p.add_argument("--engine", default="torch")
    p.add_argument("--scheduler", default="helix")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--orphan-timeout-s", type=float, default=15.0)
    return p


def main(argv: list[str] | None = None) -> int:
    return serve_worker(build_parser().parse_args(argv))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation (torch's thread pools make it take seconds on a loaded box):
    # everything this process owns is already closed.
    os._exit(code)
