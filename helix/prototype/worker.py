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
import gc
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
# prompts are fitted around the decode batch only while decode steps take at most this much wall time
# per CPU second: on a core shared with other processes a worker that waits for the batch instead of
# running a prompt loses the core, and the estimates the fitting relies on no longer hold
STRETCH_MAX = 1.25
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
        self.torch_threads = torch.get_num_threads()
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
        # fitting prompts around the decode batch (``prompt_budget``): requests whose decode this
        # worker sent on and whose next decode will come back here (rid -> when sent), when the last
        # such batch left, an EMA of the seconds until the next batch arrives here (the round trip
        # through the other stages), and an EMA of a prompt layer's wall seconds per (tokens + 34)
        self.fit_prompts = getattr(args, "fit_prompts", False)
        self.local_decodes = 0  # next decodes of one-stage routes queued without a message (``send_outputs``)
        self.coming: dict[int, float] = {}
        self.sent_at = 0.0
        self.rtt: float | None = None
        self.layer_s = 2.5e-5
        self.woke_at = 0.0  # when the last poll returned, and whether it had waited for a message
        self.woke_idle = False
        self.stretch = 1.0  # EMA of a decode step's wall / CPU time (``prompt_budget``)
        self.dead: set[int] = set()
        self.aborted: dict[int, None] = {}  # recently aborted requests (oldest first, bounded)
        self.errors: Counter = Counter()
        self.last_host = time.monotonic()
        self.running = True
        # a wall-clock timeline of the serving loop (HELIX_TIMELINE_DIR; benchmarks/prototype.py
        # --timeline): (kind, monotonic start, end, rows / messages); written when the worker stops
        self.timeline: list | None = [] if os.environ.get("HELIX_TIMELINE_DIR") else None

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
                self.coming.pop(rid, None)
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
            sent = self.coming.pop(work.rid, None)
            if sent is not None:
                self._round_trip(sent)
            if self.waiting_since is None:
                self.waiting_since = time.monotonic()
        return True

    def _round_trip(self, sent: float) -> None:
        """A decode this worker sent on is back: learn how long a round trip takes. Exact when the
        worker was waiting in ``poll`` when it came; otherwise (it was busy) it came earlier, so the
        sample only bounds the round trip from above and only lowers the estimate."""
        got = self.woke_at - sent
        if got <= 0:
            return
        if self.rtt is None:
            self.rtt = got
        elif self.woke_idle or got < self.rtt:
            self.rtt = 0.8 * self.rtt + 0.2 * min(got, 0.1)

    def step(self) -> float | None:
        """One turn of the engine: the waiting decodes (at most ``--decode-batch``) as one batch,
        their outputs sent on at once, when they are ready (``hold_s``); otherwise as many prompt
        layers as ``prompt_budget`` allows. Decodes first (the paper's engine runs prompts first)
        because a decode batch is what the next stage waits for: a stage runs its prompts while the
        decode batch is at the other stages, not in its way. Returns how long the loop may block
        waiting for a message before the next turn (0: go on at once; None: until one comes)."""
        eng = self.engine
        tl = self.timeline
        decodes = [w for w in eng.queue if w.phase == "decode"]
        hold = self.hold_s() if decodes else None
        if hold is not None and hold <= 0:
            cpu0 = eng.perf.get("decode_cpu_s", 0.0)
            t0 = time.monotonic()
            mb = getattr(self.args, "decode_batch", None)
            # decodes go first so that the next stage is not kept waiting; where this worker is
            # every stage of their routes, no other stage waits for them, and prompts left for
            # later would wait for every turn of the batch: run the waiting prompts in the same
            # step, as one process holding the whole model does
            alone = all(len((w.meta or {}).get("route") or ()) == 1 for w in decodes)
            outs = eng.step(max_decodes=mb, phase=None if alone else "decode")
            t1 = time.monotonic()
            cpu = eng.perf.get("decode_cpu_s", 0.0) - cpu0
            if cpu > 0:  # wall / CPU time of the step: > 1 when other processes take this core
                self.stretch = 0.9 * self.stretch + 0.1 * min((t1 - t0) / cpu, 4.0)
            self.send_outputs(outs)
            self.step_s = 0.8 * self.step_s + 0.2 * (time.monotonic() - t0)
            if tl is not None:
                tl.append(("dec", t0, t1, time.monotonic(), len(outs)))
            self.waiting_since = time.monotonic() if any(w.phase == "decode" for w in eng.queue) else None
            return 0.0
        if any(w.phase == "prompt" for w in eng.queue):
            layers, wait = self.prompt_budget()
            if layers == 0:  # nothing fits before the decode batch is back: wait for it
                return wait if hold is None else min(wait, hold)
            units = _layer_units(eng.pending_prompts(), layers)
            t0 = time.monotonic()
            outs = eng.step(phase="prompt", max_layers=layers)
            t1 = time.monotonic()
            if units:  # a prompt layer's wall time per (tokens + 34), for ``prompt_budget`` (a sample
                # stretched by preemption counts at most twice the estimate)
                self.layer_s = 0.8 * self.layer_s + 0.2 * min((t1 - t0) / units, 2 * self.layer_s)
            self.send_outputs(outs)
            if tl is not None:
                tl.append(("pro", t0, t1, time.monotonic(), len(outs), [o.work.rid for o in outs]))
            return 0.0
        return hold

    def prompt_budget(self) -> tuple[int | None, float]:
        """How many layers of the waiting prompts to run now (None: all, whole prompts), and, when
        none, how long to wait for the decode batch. A prompt layer that a returning decode batch
        finds running delays every request of the batch by what is left of it; a layer not started
        now waits until the batch has been through this worker's decode step, which delays every
        waiting prompt by that long. So while decodes this worker sent on are still to come back
        (``coming``, due at sent + the round-trip estimate), it starts the next prompt layer (its
        time estimated from its token count) only if that costs less in request-seconds: rows
        coming back x the layer's expected overrun past the due time, against waiting prompts x
        (time until due + one decode step). If the batch is late (by a quarter round trip), one
        layer runs anyway. On a core other processes take (decode steps stretched past
        ``STRETCH_MAX``), and without ``--fit-prompts`` (the default), whole prompts run whenever
        no decode waits; ``--prompt-layers k`` caps the layers per turn."""
        cap = self.prompt_layers
        if not self.fit_prompts or not self.coming or self.rtt is None or self.stretch > STRETCH_MAX:
            return cap, 0.0
        pending = self.engine.pending_prompts()
        if pending is None:
            return cap, 0.0
        now = time.monotonic()
        due = self.sent_at + self.rtt
        late = due + max(0.0005, 0.25 * self.rtt)
        left = due - now
        rows, waiting = len(self.coming), len(pending)
        layers = 0
        for n, remaining in pending:
            est = self.layer_s * (n + 34)
            for _ in range(remaining):
                if cap is not None and layers >= cap:
                    break
                if rows * max(0.0, est - left) > waiting * (max(0.0, left) + self.step_s):
                    break
                left -= est
                layers += 1
            else:
                continue
            break
        if layers == 0 and now >= late:
            return 1, 0.0  # the batch is late: do not keep the prompts waiting for it
        return layers, max(0.0, late - now)

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
        back: list[int] = []
        own: list[tuple[dict, object]] = []  # next decodes of routes that start here: no wire to cross
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
            nd_sent = False
            if out.work.end == self.L:
                nxt = HOST_ID
                nd = self._next_decode(h, out)
                nd_sent = nd is not None or h.get("loop") is None  # without loop-back: via the host
                if nd is not None and route[0][0] == self.me.id:
                    own.append((nd, out.payload))
                elif nd is not None:
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
            batches.setdefault(nxt, []).append((h, out.payload))
            w = out.work
            if w.phase == "decode" and w.context + 1 <= w.max_tokens - 2 and (nxt != HOST_ID or nd_sent):
                back.append(h["rid"])  # its next decode comes back here
                if k == 0:
                    self.expected[h["rid"]] = now  # the first stage: hold for it (``hold_s``)
        # the next decodes first, then each next hop's batch, each encoded just before it is sent:
        # the tokens for the host are encoded after the first stage already has its decodes
        for nxt, batch in loops.items():
            self._send_batch(nxt, batch)
        for nxt, batch in batches.items():
            self._send_batch(nxt, [(h["rid"], encode(h, payload, self.key)) for h, payload in batch])
        if back:
            self.sent_at = time.monotonic()
            for rid in back:
                self.coming[rid] = self.sent_at
        # a route that starts where it ends (this worker holds all its layers): its next decode is
        # queued here through the same checks as a received one (``_accept``), without encoding,
        # signing and sending it to this very process
        for nd, token in own:
            self.local_decodes += 1
            try:
                self._accept(nd, token.detach().clone())
            except Exception as exc:  # noqa: BLE001 - as on_data: one bad message never kills the process
                self.errors["internal"] += 1
                print(f"worker {self.me.id}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def _send_batch(self, nxt: int, batch: list) -> None:
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
        # everything built so far (model, sockets, config) lives as long as the process: keep it out
        # of the cyclic collector's full passes, which otherwise walk it between two steps
        gc.freeze()
        ahead = None
        while self.running:
            if time.monotonic() - self.last_host > args.orphan_timeout_s:
                print(
                    f"worker {self.me.id}: host silent for {args.orphan_timeout_s} s, exiting",
                    file=sys.stderr,
                )
                break
            # Block until something arrives, or for as long as the last turn allowed (decodes held
            # for the rest of their group, prompts waiting for the decode batch to pass)
            wait = 100 if ahead is None else max(0, min(100, math.ceil(1000 * ahead)))
            t0 = time.monotonic()
            events = poller.poll(timeout=wait)
            self.woke_at = time.monotonic()
            self.woke_idle = bool(events) and self.woke_at - t0 > 5e-5
            if self.timeline is not None:
                queued = len(getattr(self.engine, "queue", ()))
                self.timeline.append(("poll", t0, self.woke_at, wait, queued))
            self._guarded(self._drain_broadcasts)
            if not self.running:
                break
            self._drain_data()
            ahead = self._guarded(self.step)
            if ahead is None and getattr(self.engine, "queue", None):
                ahead = 0.0  # a step that failed leaves work queued: look again soon
            self._forget_stale()
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
        if self.timeline is not None:
            _write_timeline(self.timeline, self.me.id)
        return 0

    def _forget_stale(self) -> None:
        """Decodes sent on more than a second ago are not coming back (finished elsewhere, aborted)."""
        if self.coming:
            now = time.monotonic()
            if now - min(self.coming.values()) > 1.0:
                self.coming = {r: t for r, t in self.coming.items() if now - t <= 1.0}

    def perf(self) -> dict:
        """The engine's counters (CPU seconds per phase, steps, rows) and the serving thread's CPU
        seconds (``loop_cpu_s``; the rest of it is messaging and bookkeeping)."""
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in dict(self.engine.perf).items()}
        out["loop_cpu_s"] = round(_clock(self.loop_clock) - self.loop0, 4)
        out["local_decodes"] = self.local_decodes  # next decodes queued here without a message
        # the threads its products may use, and whether idle ones sleep at once (OMP_WAIT_POLICY)
        out["torch_threads"] = self.torch_threads
        out["omp_passive"] = int(os.environ.get("OMP_WAIT_POLICY", "").lower() == "passive")
        # whether its weights are the fork server's copy, shared with the other workers of this machine
        out["shared_weights"] = int(getattr(self.engine, "shared_weights", False))
        return out

    def _drain_data(self) -> None:
        for _ in range(10_000):
            try:
                frames = self.inbox.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            t0 = time.monotonic()
            self._guarded(self.on_data, frames)
            if self.timeline is not None:
                self.timeline.append(("recv", t0, time.monotonic(), len(frames) // 3, _kind(frames)))

    def _drain_broadcasts(self) -> None:
        while True:
            try:
                frames = self.bcast.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.on_broadcast(frames)

    def _guarded(self, fn, *a):
        """No exception ends the worker: it is counted, logged, and the loop goes on."""
        try:
            return fn(*a)
        except Exception as exc:  # noqa: BLE001 - by design: one bad message or step never kills the process
            self.errors["internal"] += 1
            print(f"worker {self.me.id}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def _layer_units(pending: list | None, layers: int | None) -> int:
    """Sum of (tokens + 34) over the next ``layers`` prompt layers (all if None): a prompt layer's
    time is about proportional to it on CPU (a fixed part like 34 tokens' worth, then linear)."""
    units = 0
    left = layers
    for n, remaining in pending or ():
        k = remaining if left is None else min(remaining, left)
        units += k * (n + 34)
        if left is not None:
            left -= k
            if left <= 0:
                break
    return units


def _kind(frames: list) -> str:
    """'decode' / 'prompt' / 'mixed' of a received batch (for the timeline only)."""
    kinds = {b'"type": "decode"' in bytes(f) for f in frames[::3]}
    return "mixed" if len(kinds) > 1 else ("decode" if kinds.pop() else "prompt")


def _write_timeline(timeline: list, nid: int) -> None:
    import json

    path = os.path.join(os.environ["HELIX_TIMELINE_DIR"], f"worker{nid}.json")
    with open(path, "w") as fh:
        json.dump(timeline, fh)


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
    p.add_argument(
        "--fit-prompts",
        action="store_true",
        help="while a decode batch is on its way back, start a prompt layer only if its overrun costs "
        "less than the prompts' wait (default: whole prompts whenever no decode waits)",
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
