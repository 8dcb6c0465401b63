"""A worker process: one machine of the placement, its layer range, its sockets
(docs/design/prototype.md s1, s5).

Loop: drain the data inbox (every field of every message checked by ``messages``; a bad one is
dropped and counted, reported with the heartbeats), queue each iteration
on the stage engine, run ``step()`` (prompts, then one batched decode pass), and send every output
to the next stage of its route, or to the host when the range ends at L (the greedy token, 4 bytes):
one multipart send per next hop per step, each output still its own checked message (``transport``).
With swarm/random the next hop of a prompt is chosen here; decodes carry their full route. Every
0.2 s a heartbeat goes to the host (from its own thread, so long steps do not look like death);
the host's broadcasts say stop, which workers are dead, which
requests to abort. A worker whose host has been silent for ``orphan_timeout_s`` exits by itself.
Nothing a message says can end the process: an exception while serving one request fails that
request (reported to the host, logged), and any other is counted and logged (``errors``).

Run as ``python -m helix.prototype.worker --system-config F --node-id K
(--model-config M | --checkpoint D) ...``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from collections import Counter

import zmq

from helix.prototype.routing import hop_feedback
from helix.prototype.transport import NodeSockets

HEARTBEAT_S = 0.2
ABORTED_KEPT = 10_000  # aborted request ids remembered (to drop their late loop-back decodes quietly)


class Worker(NodeSockets):
    """One worker's state and message handling; ``run`` is the loop. Split out so tests can feed it
    messages in-process (``on_data`` / ``on_broadcast``) and check that each bad one is counted."""

    def __init__(self, args):
        import torch

        from helix.prototype.engines import get_engine
        from helix.prototype.model import LlamaConfig
        from helix.prototype.routing import HopChooser
        from helix.prototype.sysconfig import SystemConfig
        from helix.prototype.transport import Inbox, Outbox

        torch.set_num_threads(max(1, args.threads))
        self.args = args
        cfg = self.cfg = SystemConfig.load(args.system_config)
        me = self.me = cfg.node(args.node_id)
        ckpt = getattr(args, "checkpoint", None)
        self.model = LlamaConfig.from_json(
            args.model_config if not ckpt else os.path.join(ckpt, "config.json"), args.model_name
        )
        self.L = cfg.num_layers
        self.keys = cfg.key_bytes()
        self.key = cfg.key_of(me.id)
        ctx = self.ctx = zmq.Context()
        self.inbox = Inbox(
            ctx, f"tcp://{me.address}:{me.port}", set(me.in_nodes) | set(cfg.loop_sources(me.id)), self.keys
        )
        self.outbox = Outbox(ctx, {v: cfg.endpoint(v) for v in [*me.out_nodes, *cfg.loop_targets(me.id)]})
        self.control = ctx.socket(zmq.PUSH)
        self.control.setsockopt(zmq.LINGER, 0)
        self.control.connect(cfg.control_endpoint())
        self.bcast = ctx.socket(zmq.SUB)
        self.bcast.setsockopt(zmq.LINGER, 0)
        self.bcast.setsockopt(zmq.SUBSCRIBE, b"")
        self.bcast.connect(cfg.broadcast_endpoint())
        self.engine = get_engine(args.engine)(
            self.model,
            (me.start, me.end),
            seed=args.seed,
            device=args.device,
            dtype=args.dtype,
            checkpoint=ckpt,
        )
        self.tdtype = self.engine.tdtype
        self.chooser = (
            HopChooser(cfg, args.scheduler, me.id, args.seed)
            if args.scheduler in ("swarm", "random")
            else None
        )
        # regrouping (``step``): requests whose decode this worker sent on and that will come back to
        # it (rid -> when sent), the arrival time of the oldest decode waiting here, and an EMA of the
        # wall time of a decode step (how long to hold waiting decodes for the rest of their group)
        self.expected: dict[int, float] = {}
        self.waiting_since: float | None = None
        self.step_s = 0.005
        self.regroup = getattr(args, "regroup", True)
        self.prompt_layers = getattr(args, "prompt_layers", 0) or None
        self.dead: set[int] = set()
        self.aborted: dict[int, None] = {}  # recently aborted requests (oldest first, bounded)
        self.errors: Counter = Counter()
        self.last_host = time.monotonic()
        self.running = True

    def tell_host(self, msg: dict) -> None:
        from helix.prototype.transport import seal

        try:
            self.control.send_multipart(seal(dict(msg, src=self.me.id), self.key), zmq.NOBLOCK)
        except zmq.Again:
            pass

    # -- messages ------------------------------------------------------------------------------
    def on_broadcast(self, frames: list[bytes]) -> None:
        """stop / dead / abort from the host; anything else is counted and ignored."""
        from helix.prototype.messages import Drop, check_broadcast
        from helix.prototype.sysconfig import HOST_ID
        from helix.prototype.transport import Malformed, unseal

        try:
            msg = check_broadcast(unseal(frames, self.keys, src=HOST_ID), len(self.cfg.nodes))
        except (Malformed, Drop):
            self.errors["bad_broadcast"] += 1
            return
        self.last_host = time.monotonic()
        kind = msg["type"]
        if kind == "stop":
            self.running = False
        elif kind == "dead":
            self.dead.update(msg["nodes"])
        elif kind == "abort":
            for rid in msg["rids"]:
                self.engine.free(rid)
                self.expected.pop(rid, None)
                self.aborted[rid] = None
            while len(self.aborted) > ABORTED_KEPT:
                del self.aborted[next(iter(self.aborted))]

    def on_data(self, frames: list[bytes]) -> bool:
        """Check every message of one received multipart message (a sender's batch, see
        ``transport``) and queue each valid one on the engine; False when any was dropped (each
        counted). One message's fault never stops the others of its batch."""
        ok = True
        for got in self.inbox.check_batch(frames):
            if got is None:
                ok = False
                continue
            try:
                ok = self._accept(*got) and ok
            except Exception as exc:  # noqa: BLE001 - by design: one bad message never kills the process
                ok = False
                self.errors["internal"] += 1
                print(f"worker {self.me.id}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return ok

    def _accept(self, header: dict, tensor) -> bool:
        """One message that decoded and whose MAC matched: check its fields, queue it."""
        from helix.prototype.engines import StageWork
        from helix.prototype.messages import Drop, check_stage_message

        m = self.model
        try:
            start, end = check_stage_message(
                header,
                tensor,
                me=self.me.id,
                cfg=self.cfg,
                vocab_size=m.vocab_size,
                hidden_size=m.hidden_size,
                max_position=m.max_position,
                dtype=self.tdtype,
            )
        except Drop as exc:
            self.inbox.dropped[exc.reason] += 1
            return False
        if self.chooser is not None:
            for sender, receiver, delta in header.get("fb", []):
                if sender == self.me.id:
                    self.chooser.feedback(receiver, delta)
        if header["rid"] in self.aborted:  # e.g. a looped-back decode that crossed the host's abort
            self.inbox.dropped["aborted"] += 1
            return False
        work = StageWork(
            header["rid"], header["type"], start, end, tensor, header["max_tokens"], header["context"], header
        )
        try:
            self.engine.submit(work)
        except ValueError as exc:  # a decode without its prompt pass here, a position that disagrees
            self.errors["rejected"] += 1
            self.tell_host({"type": "fail", "rid": header["rid"], "reason": str(exc)})
            return False
        if work.phase == "decode":
            self.expected.pop(work.rid, None)
            if self.waiting_since is None:
                self.waiting_since = time.monotonic()
        return True

    def step(self) -> None:
        """One turn of the engine: the waiting decodes (at most ``--decode-batch``) as one batch,
        their outputs sent on at once, when they are ready (``hold_s``); otherwise the waiting
        prompts (with ``--prompt-layers k``, at most k layers of them per turn). Decodes first (the
        paper's engine runs prompts first) because a decode batch is what the next stage waits for:
        a stage runs its prompts while the decode batch is at the other stages, not in its way."""
        eng = self.engine
        if any(w.phase == "decode" for w in eng.queue) and self.hold_s() <= 0:
            t0 = time.monotonic()
            mb = getattr(self.args, "decode_batch", None)
            self.send_outputs(eng.step(max_decodes=mb, phase="decode"))
            self.step_s = 0.8 * self.step_s + 0.2 * (time.monotonic() - t0)
            self.waiting_since = time.monotonic() if any(w.phase == "decode" for w in eng.queue) else None
            return
        if any(w.phase == "prompt" for w in eng.queue):
            self.send_outputs(eng.step(phase="prompt", max_layers=self.prompt_layers))

    def hold_s(self) -> float:
        """Seconds the waiting decodes should still wait for the rest of their group (<= 0: run them
        now). With the decode loop-back a batch leaves the last stage and reaches the first one
        together, but a request that has just finished its prompt, or one that waited for a full
        micro-batch, arrives on its own; run at once, it would become a second batch that reads
        every weight of the stage again for one or two rows, and stay one. So while some of the
        decodes this worker sent on are still to come back (``expected``), it holds the waiting ones
        for at most twice its recent decode step time (running prompt layers meanwhile), and stops
        holding when they are all here or the decode batch is full. Only a request's first stage
        holds (where the loop-back and the host feed decodes in); the later stages run what comes,
        so two stages never wait for each other's batch."""
        if not self.regroup or self.waiting_since is None or not self.expected:
            return 0.0
        waiting = [w for w in self.engine.queue if w.phase == "decode"]
        mb = getattr(self.args, "decode_batch", None)
        if (mb and len(waiting) >= mb) or any((w.meta or {}).get("stage", 0) != 0 for w in waiting):
            return 0.0  # a full batch, or a decode in the middle of its route: that one never waits
        now = time.monotonic()
        limit = min(0.05, max(0.002, 2 * self.step_s))
        for rid, sent in list(self.expected.items()):  # forget what cannot be on its way any more
            if now - sent > 1.0:
                del self.expected[rid]
        return self.waiting_since + limit - now if self.expected else 0.0

    def send_outputs(self, outs: list) -> None:
        """Send engine outputs on, one batch per next hop (a failed request is reported, not raised)."""
        from helix.prototype.sysconfig import HOST_ID
        from helix.prototype.transport import encode

        if not outs:
            return
        loops: dict[int, list] = {}  # first stage -> next decodes (sent first: they are the critical path)
        batches: dict[int, list] = {}
        now = time.monotonic()
        for out in outs:
            h = dict(out.work.meta)
            if out.error is not None:
                self.errors["request"] += 1
                print(
                    f"worker {self.me.id}: request {h['rid']} failed: {out.error}",
                    file=sys.stderr,
                    flush=True,
                )
                self.engine.free(h["rid"])
                self.tell_host(
                    {"type": "fail", "rid": h["rid"], "reason": f"worker {self.me.id}: {out.error}"}
                )
                continue
            h.pop("fb", None)
            h.pop("dtype", None)
            h.pop("shape", None)
            k = h["stage"]
            route = h["route"]
            h["hops"] = h.get("hops", []) + [time.time()]
            if out.work.end == self.L:
                nxt = HOST_ID
                nd = self._next_decode(h, out)
                if nd is not None:
                    loops.setdefault(route[0][0], []).append((h["rid"], encode(nd, out.payload, self.key)))
            else:
                if len(route) <= k + 1:
                    stage = self.chooser.choose(out.work.end, self.dead) if self.chooser is not None else None
                    if stage is None:
                        self.tell_host(
                            {
                                "type": "fail",
                                "rid": h["rid"],
                                "reason": f"no live next hop after node {self.me.id}",
                            }
                        )
                        self.engine.free(h["rid"])
                        continue
                    route = route + [stage]
                    h["route"] = route
                nxt = route[k + 1][0]
            h["stage"] = k + 1
            h["src"] = self.me.id
            batches.setdefault(nxt, []).append((h["rid"], encode(h, out.payload, self.key)))
            w = out.work
            if k == 0 and w.phase == "decode" and w.context + 1 <= w.max_tokens - 2:
                self.expected[h["rid"]] = now  # the first stage: its next decode comes back here
        for nxt, batch in [*loops.items(), *batches.items()]:
            if not self.outbox.send_many(nxt, [frames for _, frames in batch]):
                for rid, _ in batch:
                    self.errors["send"] += 1
                    self.tell_host({"type": "fail", "rid": rid, "reason": f"cannot send to node {nxt}"})

    def _next_decode(self, h: dict, out) -> dict | None:
        """The decode loop-back: for a request whose header carries ``loop`` (its stop token ids),
        the last stage sends the next decode iteration straight to the route's first stage (the
        host still gets the token and logs both), unless the request ends here: its last position
        (``max_tokens``, the rule the engine frees KV by) or a stop token. Saves the host's wake-up
        on every token's critical path. Returns the header, or None."""
        stop = h.get("loop")
        if stop is None:
            return None
        w = out.work
        last = w.context if w.phase == "decode" else int(w.payload.shape[0]) - 1  # position just processed
        if last + 1 > w.max_tokens - 2 or int(out.payload.reshape(-1)[0]) in stop:
            return None
        nd = {
            "type": "decode",
            "src": self.me.id,
            "rid": h["rid"],
            "max_tokens": w.max_tokens,
            "context": last + 1,
            "stage": 0,
            "route": h["route"],
            "t": time.time(),
            "hops": [],
            "loop": stop,
        }
        if self.chooser is not None:  # swarm: the per-hop times the host would have sent back
            _, fb = hop_feedback(h["route"], h["t"], h["hops"])
            if fb:
                nd["fb"] = fb
        return nd

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        self.tell_host({"type": "ready", "pid": os.getpid()})
        poller = zmq.Poller()
        poller.register(self.inbox.sock, zmq.POLLIN)
        poller.register(self.bcast, zmq.POLLIN)
        stop_hb = threading.Event()
        self.cpu0 = time.process_time()  # every thread of this process: torch, the zmq I/O thread, heartbeats
        self.loop_clock = _thread_clock()  # this (serving) thread's CPU clock, readable from the heartbeats
        self.loop0 = _clock(self.loop_clock)
        hb = threading.Thread(
            target=_heartbeat,
            args=(
                self.ctx,
                self.cfg.control_endpoint(),
                self.me.id,
                self.key,
                stop_hb,
                lambda: (
                    self.engine.cached_requests(),
                    dict(self.inbox.dropped),
                    dict(self.errors),
                    round(time.process_time() - self.cpu0, 3),
                    self.perf(),
                ),
            ),
            daemon=True,
        )
        hb.start()
        while self.running:
            if time.monotonic() - self.last_host > args.orphan_timeout_s:
                print(
                    f"worker {self.me.id}: host silent for {args.orphan_timeout_s} s, exiting",
                    file=sys.stderr,
                )
                break
            # Block until something arrives, unless decodes left over by ``--decode-batch`` wait.
            queue = getattr(self.engine, "queue", None)
            if not queue:
                wait = 100
            elif any(w.phase == "prompt" for w in queue):
                wait = 0
            else:  # only decodes, held for the rest of their group (or ready: 0)
                wait = max(0, min(100, math.ceil(1000 * self.hold_s())))
            poller.poll(timeout=wait)
            self._guarded(self._drain_broadcasts)
            if not self.running:
                break
            self._drain_data()
            self._guarded(self.step)
        stop_hb.set()
        hb.join()
        self.tell_host(
            {
                "type": "bye",
                "dropped": dict(self.inbox.dropped),
                "errors": dict(self.errors),
                "cpu_s": round(time.process_time() - self.cpu0, 3),
                "perf": self.perf(),
            }
        )
        time.sleep(0.05)
        self.close()
        return 0

    def perf(self) -> dict:
        """The engine's counters (CPU seconds per phase, steps, rows) and the serving thread's CPU
        seconds (``loop_cpu_s``; the rest of it is messaging and bookkeeping)."""
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in dict(self.engine.perf).items()}
        out["loop_cpu_s"] = round(_clock(self.loop_clock) - self.loop0, 4)
        return out

    def _drain_data(self) -> None:
        for _ in range(10_000):
            try:
                frames = self.inbox.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._guarded(self.on_data, frames)

    def _drain_broadcasts(self) -> None:
        while True:
            try:
                frames = self.bcast.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.on_broadcast(frames)

    def _guarded(self, fn, *a) -> None:
        """No exception ends the worker: it is counted, logged, and the loop goes on."""
        try:
            fn(*a)
        except Exception as exc:  # noqa: BLE001 - by design: one bad message or step never kills the process
            self.errors["internal"] += 1
            print(f"worker {self.me.id}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _thread_clock():
    """The calling thread's CPU-time clock id (Linux), or None (then the process's CPU time)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


def _clock(clock) -> float:
    return time.process_time() if clock is None else time.clock_gettime(clock)


def serve_worker(args) -> int:
    return Worker(args).run()


def _heartbeat(ctx, endpoint: str, nid: int, key, stop: threading.Event, state) -> None:
    """Liveness on its own thread and socket: a long engine step (torch releases the GIL) must not
    look like a dead worker; a dead process stops beating at once."""
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    from helix.prototype.transport import seal

    while not stop.is_set():
        try:
            cached, dropped, errors, cpu, perf = state()
        except RuntimeError:  # a counter changed size while copied: report next beat
            cached, dropped, errors, cpu, perf = 0, {}, {}, 0.0, {}
        try:
            msg = {
                "type": "hb",
                "src": nid,
                "cached": cached,
                "dropped": dropped,
                "errors": errors,
                "cpu_s": cpu,
                "perf": perf,
            }
            sock.send_multipart(seal(msg, key), zmq.NOBLOCK)
        except zmq.Again:
            pass
        stop.wait(HEARTBEAT_S)
    sock.close(0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Helix prototype worker")
    p.add_argument("--system-config", required=True)
    p.add_argument("--node-id", type=int, required=True)
    p.add_argument("--model-config", default=None)
    p.add_argument(
        "--checkpoint", default=None, help="HF checkpoint directory: load this range's tensors from it"
    )
    p.add_argument("--model-name", default=None)
    p.add_argument("--engine", default="torch")
    p.add_argument("--scheduler", default="helix")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--decode-batch", type=int, default=None, help="most decodes per step (default: all waiting)"
    )
    p.add_argument(
        "--prompt-layers",
        type=int,
        default=0,
        help="layers of prompts between two looks at the inbox (0 = whole prompts)",
    )
    p.add_argument(
        "--no-regroup",
        dest="regroup",
        action="store_false",
        help="run waiting decodes at once, without holding them for the rest of their group",
    )
    p.add_argument("--orphan-timeout-s", type=float, default=15.0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.model_config and not args.checkpoint:
        print("error: --model-config or --checkpoint is required", file=sys.stderr)
        return 2
    prof_dir = os.environ.get("HELIX_PROFILE_DIR")
    if prof_dir:  # where the time goes (benchmarks/prototype.py --profile): one pstats file per worker
        import cProfile

        # CPU seconds of the serving thread (HELIX_PROFILE_CLOCK=wall: wall seconds, waiting included)
        clock = time.perf_counter if os.environ.get("HELIX_PROFILE_CLOCK") == "wall" else time.thread_time
        prof = cProfile.Profile(clock)
        try:
            return prof.runcall(_serve_or_say_why, args)
        finally:
            prof.dump_stats(os.path.join(prof_dir, f"worker{args.node_id}.pstats"))
    return _serve_or_say_why(args)


def _serve_or_say_why(args) -> int:
    """Bad input (a checkpoint it cannot read, a device it cannot use) is one line on stderr, which
    the host quotes in its StartupError."""
    from helix.errors import HelixInputError

    try:
        return serve_worker(args)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalisation (torch's thread pools make it take seconds on a loaded box):
    # everything this process owns is already closed.
    os._exit(code)
