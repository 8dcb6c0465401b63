"""The host: request source and sink, route scheduler, event log (docs/design/prototype.md s1, s4, s6, s7).

Every request starts and ends here: the host sends the prompt (token ids) to the first stage and
gets every greedy token back from the last; each next decode iteration runs along the *same* route
(the KV cache never moves). With ``spec.loopback`` (default) the last stage sends that next decode
straight to the first stage and the host only checks, logs and ends (the paper's design, where the
host sends every iteration, is ``loopback: false``; the events are the same either way). The host
does not batch requests into one computation (workers batch whatever is waiting at them), but what
it sends to one worker in one loop iteration goes in one multipart send (``_flush``). Events are
``(t, rid, 'out'|'in'|'fail', phase, context_len, n_tokens)`` with the paper's meaning of
``context_len`` (prompt 0; decode = tokens processed before the iteration, starting at
input_len + 1).

Liveness: workers heartbeat every 0.2 s; a worker silent for ``heartbeat_timeout_s`` (or reported
dead by the launcher) is dead: requests whose route uses it (and, with hop-by-hop schedulers, any
prompt still in flight, whose route the host does not know yet) are logged ``fail``, the workers
are told, and new requests are routed around it while a complete route remains.

Two ways to feed it: ``run`` (the workload generator: offline closed loop or online trace, for a
fixed duration, as in the paper) and ``serve`` (requests handed in by another thread, e.g. the
OpenAI-compatible endpoint of ``helix.prototype.api``, until told to stop). Both start the same
way (``_begin``), schedule a new request onto a route the same way (``_launch``) and share the
handling of tokens coming back (``_drain_tokens``), of liveness (``_liveness``), the heartbeat
(``_beat``) and the final counts (``_end_stats``).

Every message is checked before use (``helix.prototype.messages``): a token for a request that is
not running, a route that is not the request's, a token id outside the vocabulary, a control
message with a bad MAC or bad fields is dropped and counted (``stats['dropped']``); an exception
while handling one message fails at most that message's request, never the host.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import zmq

from helix.errors import HelixInputError
from helix.prototype.messages import Drop, check_control, check_token_message
from helix.prototype.routing import HelixRouter, HopChooser, hop_feedback
from helix.prototype.settings import ProtoRunSpec
from helix.prototype.sysconfig import HOST_ID, SystemConfig, check_routable
from helix.prototype.transport import Inbox, Malformed, NodeSockets, Outbox, encode, seal, unseal
from helix.workload import LengthSampler, OfflineFeeder, online_arrivals


class StartupError(RuntimeError):
    """Some worker never reported ready."""


@dataclass
class Request:
    rid: int
    input_len: int
    output_len: int
    prompt: list[int]
    tokens: list[int] = field(default_factory=list)
    route: list[list[int]] = field(default_factory=list)
    status: str = "running"
    phase: str = "prompt"
    fb: list = field(default_factory=list)
    stop_ids: tuple = ()  # finish early on one of these tokens (EOS), it included
    sink: Any = None  # serving: a queue.Queue that gets ("token", id), ("done", reason), ("error", text)
    last_progress: float = 0.0  # monotonic time of the last token (serving: stall detection)
    finish_reason: str = ""
    last_t: float = 0.0  # host time of the last token

    def emit(self, *event) -> None:
        if self.sink is not None:
            self.sink.put(event)


def prompt_ids(seed: int, rid: int, n: int, vocab: int) -> list[int]:
    """Deterministic prompt token ids of request ``rid`` (tests regenerate them)."""
    return np.random.default_rng([seed, rid]).integers(0, vocab, n).astype(np.int64).tolist()


def scaled_lengths(inputs, outputs, spec: ProtoRunSpec) -> tuple[np.ndarray, np.ndarray]:
    s = spec.lengths
    a = np.clip(np.rint(np.asarray(inputs) * s.scale), s.min_input, s.max_input).astype(np.int64)
    b = np.clip(np.rint(np.asarray(outputs) * s.scale), s.min_output, s.max_output).astype(np.int64)
    return a, b


def checked_lengths(
    lengths: tuple, spec: ProtoRunSpec, max_position: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled lengths; a request longer than the model's positions is a config error, up front."""
    a, b = scaled_lengths(*lengths, spec)
    longest = int(a.max() + b.max())
    if max_position is not None and longest > max_position:
        raise HelixInputError(
            "prototype",
            "lengths",
            f"prompt + output up to {longest} tokens exceed the model's max_position_embeddings "
            f"{max_position}; scale or clip the lengths (lengths.scale / max_input / max_output)",
            spec.lengths.model_dump(),
        )
    return a, b


@dataclass
class Submission:
    """A request handed to a serving host: prompt token ids and how many tokens to generate."""

    prompt: list[int]
    max_tokens: int
    stop_ids: tuple = ()
    sink: Any = field(default_factory=queue.Queue)
    rid: int = -1  # set by the host


class Host(NodeSockets):
    def __init__(
        self,
        cfg: SystemConfig,
        spec: ProtoRunSpec,
        vocab: int,
        lengths: tuple | None,
        arrivals=None,
        log=print,
        max_position: int | None = None,
    ):
        self.cfg, self.spec, self.vocab, self.log = cfg, spec, vocab, log
        self.max_position = max_position
        if lengths is not None:
            self.inputs, self.outputs = checked_lengths(lengths, spec, max_position)
        self.arrival_counts = arrivals
        self.events: list[tuple] = []
        self.requests: dict[int, Request] = {}
        self.dead: set[int] = set()
        self.dead_at: dict[int, float] = {}
        self.stats: dict = {"dropped": {}, "rejected": 0, "worker_reports": {}}
        self.dropped: Counter = Counter()  # control-channel drops (data drops: self.inbox.dropped)
        self.errors: Counter = Counter()
        self.keys = cfg.key_bytes()
        self.key = cfg.key_of(HOST_ID)
        self.ctx = zmq.Context()
        host = cfg.host
        self.inbox = Inbox(self.ctx, f"tcp://{host.address}:{host.port}", set(host.in_nodes), self.keys)
        self.outbox = Outbox(self.ctx, {v: cfg.endpoint(v) for v in host.out_nodes})
        self.control = self.ctx.socket(zmq.PULL)
        self.control.setsockopt(zmq.LINGER, 0)
        self.control.bind(cfg.control_endpoint())
        self.bcast = self.ctx.socket(zmq.PUB)
        self.bcast.setsockopt(zmq.LINGER, 0)
        self.bcast.bind(cfg.broadcast_endpoint())
        self.last_seen: dict[int, float] = {}
        self.ready: set[int] = set()
        self._outgoing: dict[int, list] = {}  # first-stage worker -> [(request, frames)] not sent yet
        self.router = None
        self.chooser = None
        if spec.scheduler == "helix":
            caps = {w.id: spec.layer_tps / (w.end - w.start) for w in cfg.workers}
            kv = {w.id: spec.kv_slots for w in cfg.workers}
            from helix.scheduling.helix import KV_DEFAULTS

            hwm, ratio = KV_DEFAULTS[spec.mode]
            ratio = (spec.kv_ratio if spec.kv_ratio is not None else ratio) * spec.lengths.scale
            hwm = spec.kv_hwm if spec.kv_hwm is not None else hwm
            self.router = HelixRouter(
                cfg, spec.mode, caps, kv, feed_hwm=spec.feed_hwm, kv_hwm=hwm, kv_ratio=ratio
            )
        else:
            self.chooser = HopChooser(cfg, spec.scheduler, HOST_ID, spec.seed)

    # -- plumbing ------------------------------------------------------------------------------
    def _broadcast(self, msg: dict) -> None:
        self.bcast.send_multipart(seal(msg, self.key))

    def _control(self, now: float, on_fail: Callable[[int, str], None] | None = None) -> None:
        while True:
            try:
                frames = self.control.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self.on_control(frames, now, on_fail)
            except Exception as exc:  # noqa: BLE001 - never the host
                self.errors["internal"] += 1
                self.log(f"host: control message: {type(exc).__name__}: {exc}")

    def on_control(
        self, frames: list[bytes], now: float, on_fail: Callable[[int, str], None] | None = None
    ) -> bool:
        """One control message (ready / heartbeat / bye / fail / fatal); False (counted) if dropped."""
        try:
            msg = check_control(unseal(frames, self.keys), len(self.cfg.nodes))
        except Malformed:
            self.dropped["control_malformed"] += 1
            return False
        except Drop as exc:
            self.dropped[exc.reason] += 1
            return False
        src = msg["src"]
        self.last_seen[src] = now
        kind = msg["type"]
        if kind == "ready":
            self.ready.add(src)
        elif kind in ("hb", "bye"):
            self.stats["worker_reports"][src] = {
                "dropped": msg.get("dropped", {}),
                "errors": msg.get("errors", {}),
            }
            if "cpu_s" in msg:  # CPU seconds the worker's serving loop has used so far
                self.stats["worker_reports"][src]["cpu_s"] = msg["cpu_s"]
            if msg.get("perf"):  # the engine's CPU per phase, steps and rows (see StageEngine.perf)
                self.stats["worker_reports"][src]["perf"] = msg["perf"]
        elif kind == "fail" and on_fail is not None:
            on_fail(msg["rid"], msg.get("reason", ""))
        elif kind == "fatal":
            self.log(f"worker {src} fault: {msg.get('reason')}")
        return True

    def wait_ready(
        self,
        timeout_s: float,
        alive: Callable[[], set[int]] | None = None,
        why: Callable[[int], str] | None = None,
    ) -> None:
        """Block until every worker said ready; StartupError naming the missing ones otherwise
        (with ``why(id)``: the last line a worker that exited wrote, e.g. its one-line error)."""
        want = {w.id for w in self.cfg.workers}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._broadcast({"type": "hb"})
            self._control(time.monotonic())
            if self.ready >= want:
                return
            gone = alive() if alive else set()
            if gone:
                said = "; ".join(f"worker {g}: {why(g)}" for g in sorted(gone) if why and why(g))
                raise StartupError(
                    f"worker(s) {sorted(gone)} exited before becoming ready" + (f" ({said})" if said else "")
                )
            time.sleep(0.05)
        missing = sorted(want - self.ready)
        names = [self.cfg.node(i).name for i in missing]
        raise StartupError(f"worker(s) {missing} ({', '.join(names)}) not ready after {timeout_s:g} s")

    # -- requests ------------------------------------------------------------------------------
    def _send(self, req: Request, phase: str, now_rel: float, looped: bool = False) -> None:
        """Queue the request's next iteration for its first stage (sent by ``_flush``) and log it;
        ``looped``: the last stage has already sent this decode to the first (``spec.loopback``),
        only log it. A prompt sent with the loop-back on carries ``loop``: the request's stop ids."""
        if phase == "prompt":
            ctx_len, ntok, pos = 0, req.input_len + 1, 0
        else:
            ctx_len = req.input_len + len(req.tokens)
            ntok, pos = 1, ctx_len - 1
        req.phase = phase
        self.events.append((now_rel, req.rid, "out", phase, ctx_len, ntok))
        if looped:
            return
        payload = torch.tensor(req.prompt if phase == "prompt" else req.tokens[-1:], dtype=torch.int32)
        header = {
            "type": phase,
            "src": HOST_ID,
            "rid": req.rid,
            "max_tokens": req.input_len + req.output_len,
            "context": pos,
            "stage": 0,
            "route": req.route,
            "t": time.time(),
            "hops": [],
        }
        if req.fb:
            header["fb"], req.fb = req.fb, []
        if self.spec.loopback:
            header["loop"] = list(req.stop_ids)
        self._outgoing.setdefault(req.route[0][0], []).append((req, encode(header, payload, self.key)))

    def _flush(self, now_rel: float) -> None:
        """Send what ``_send`` queued: one batch per first-stage worker (see ``transport``)."""
        out, self._outgoing = self._outgoing, {}
        for nid, batch in out.items():
            if not self.outbox.send_many(nid, [frames for _, frames in batch]):
                for req, _ in batch:
                    self._fail(req, now_rel, "host could not send")

    def _fail(self, req: Request, now_rel: float, reason: str) -> None:
        if req.status != "running":
            return
        req.status = "failed"
        ctx_len = 0 if req.phase == "prompt" else req.input_len + len(req.tokens)
        self.events.append((now_rel, req.rid, "fail", req.phase, ctx_len, 0))
        if self.router is not None:
            self.router.finish(req.rid)
        self._broadcast({"type": "abort", "rids": [req.rid]})
        self.stats.setdefault("fail_reasons", {}).setdefault(reason, 0)
        self.stats["fail_reasons"][reason] += 1
        req.emit("error", reason)

    def _launch(
        self, rid: int, a: int, b: int, now_rel: float, sub: Submission | None = None
    ) -> Request | None:
        if sub is None:
            req = Request(rid, int(a), int(b), prompt_ids(self.spec.seed, rid, int(a), self.vocab))
        else:
            req = Request(
                rid,
                len(sub.prompt),
                sub.max_tokens,
                list(sub.prompt),
                stop_ids=tuple(sub.stop_ids),
                sink=sub.sink,
                last_progress=time.monotonic(),
            )
        if self.router is not None:
            route = self.router.plan(rid, req.input_len, req.output_len)
        else:
            first = self.chooser.choose(0, self.dead)
            route = [first] if first is not None else None
        if route is None:
            self.stats["rejected"] += 1
            return None
        req.route = route
        self.requests[rid] = req
        self._send(req, "prompt", now_rel)
        return req

    def _swarm_feedback(self, req: Request, header: dict) -> None:
        hops = header.get("hops", [])
        if self.chooser is None or len(hops) != len(req.route):
            return
        first, fb = hop_feedback(req.route, header["t"], hops)
        if first is not None:
            self.chooser.feedback(*first)
        req.fb = fb

    def _declare_dead(self, nid: int, now_rel: float) -> None:
        if nid in self.dead:
            return
        self.dead.add(nid)
        self.dead_at[nid] = now_rel
        self.log(f"worker {nid} ({self.cfg.node(nid).name}) is dead at t={now_rel:.2f} s")
        self._broadcast({"type": "dead", "nodes": sorted(self.dead)})
        if self.router is not None:
            self.router.mark_dead(nid)
        for req in self.requests.values():
            if req.status != "running":
                continue
            on_route = any(node == nid for node, _, _ in req.route)
            unknown = self.chooser is not None and req.phase == "prompt"
            if on_route or unknown:
                self._fail(req, now_rel, f"worker {nid} died")

    def _finish(self, req: Request, reason: str) -> None:
        req.status = "finished"
        req.finish_reason = reason
        if self.router is not None:
            self.router.finish(req.rid)
        if reason == "stop":  # ended before max_tokens: the workers still hold its KV
            self._broadcast({"type": "abort", "rids": [req.rid]})
        req.emit("done", reason)

    def _on_token(self, header: dict, tensor, t_in: float) -> tuple[str, Request] | None:
        """A token came back: check it, log it, then finish the request or send its next decode.
        Returns ("finished" | "prompt" | "decode", request), None if the message was dropped."""
        req = self.requests.get(header.get("rid")) if isinstance(header.get("rid"), int) else None
        if req is None or req.status != "running":
            self.inbox.dropped["stale"] += 1
            return None
        try:
            tok = check_token_message(
                header,
                tensor,
                cfg=self.cfg,
                vocab_size=self.vocab,
                phase=req.phase,
                route=req.route,
                hop_by_hop=self.chooser is not None,
                context=0 if req.phase == "prompt" else req.input_len + len(req.tokens) - 1,
            )
        except Drop as exc:
            self.inbox.dropped[exc.reason] += 1
            return None
        req.last_t = t_in
        phase = req.phase
        ctx_len = 0 if phase == "prompt" else req.input_len + len(req.tokens)
        self.events.append(
            (t_in, req.rid, "in", phase, ctx_len, req.input_len + 1 if phase == "prompt" else 1)
        )
        req.tokens.append(tok)
        req.last_progress = time.monotonic()
        req.emit("token", tok)
        if phase == "prompt":
            req.route = header["route"]
        self._swarm_feedback(req, header)
        if len(req.tokens) >= req.output_len or tok in req.stop_ids:
            self._finish(req, "stop" if tok in req.stop_ids else "length")
            return "finished", req
        if self.router is not None:
            self.router.on_decode(req.rid)
        self._send(req, "decode", t_in, looped=self.spec.loopback)
        return phase, req

    def _liveness(self, now: float, alive, on_fail) -> list[int]:
        """Control messages, dead workers; returns the workers newly declared dead."""
        self._control(time.monotonic(), on_fail)
        gone = set(alive()) if alive else set()
        mono = time.monotonic()
        newly = []
        for w in self.cfg.workers:
            if w.id not in self.dead and (
                w.id in gone or mono - self.last_seen.get(w.id, mono) > self.spec.heartbeat_timeout_s
            ):
                self._declare_dead(w.id, now)
                newly.append(w.id)
        return newly

    def _drain_tokens(self, rel: Callable[[], float]) -> list[tuple[str, Request]]:
        """Every token waiting at the inbox (each batch message by message); the next decodes they
        trigger are sent at the end, one batch per first stage."""
        done = []
        for _ in range(10_000):
            try:
                frames = self.inbox.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            for got in self.inbox.check_batch(frames):
                if got is None:
                    continue
                try:
                    req = self._on_token(*got, rel())
                except Exception as exc:  # noqa: BLE001
                    # never the host: fail the request the message was about
                    self.errors["internal"] += 1
                    self.log(f"host: {type(exc).__name__}: {exc}")
                    bad = self.requests.get(got[0].get("rid")) if isinstance(got[0].get("rid"), int) else None
                    if bad is not None:
                        self._fail(bad, rel(), f"host error: {type(exc).__name__}")
                    continue
                if req is not None:
                    done.append(req)
        self._flush(rel())
        return done

    # -- what both loops share -----------------------------------------------------------------
    def _begin(self, wake_fd: int | None = None) -> zmq.Poller:
        """Start a loop (``run`` or ``serve``): the clock's origin, every worker counted as seen now,
        a poller on the token inbox and the control socket (and ``wake_fd``, if given)."""
        self._origin = time.monotonic()
        self._last_hb = 0.0
        for w in self.cfg.workers:
            self.last_seen[w.id] = self._origin
        poller = zmq.Poller()
        poller.register(self.inbox.sock, zmq.POLLIN)
        poller.register(self.control, zmq.POLLIN)
        if wake_fd is not None:
            poller.register(wake_fd, zmq.POLLIN)
        return poller

    def _rel(self) -> float:
        """Seconds since the loop began (the events' clock)."""
        return time.monotonic() - self._origin

    def _fail_rid(self, rid: int, reason: str) -> Request | None:
        """A worker reported request ``rid`` failed: fail it (if it is ours); returns it."""
        req = self.requests.get(rid)
        if req is not None:
            self._fail(req, self._rel(), reason)
        return req

    def _beat(self, now_rel: float) -> None:
        """The host's heartbeat broadcast, every 0.5 s (workers exit when it stops)."""
        if now_rel - self._last_hb >= 0.5:
            self._broadcast({"type": "hb"})
            self._last_hb = now_rel

    def _end_stats(self, **extra) -> dict:
        reqs = self.requests.values()
        self.stats.update(
            **extra,
            requests=len(self.requests),
            finished=sum(r.status == "finished" for r in reqs),
            failed=sum(r.status == "failed" for r in reqs),
            dead_workers={str(k): round(v, 3) for k, v in self.dead_at.items()},
        )
        self._final_counts()
        return self.stats

    def _final_counts(self) -> None:
        self.stats["dropped"].update({f"host_{k}": v for k, v in self.inbox.dropped.items()})
        self.stats["dropped"].update(self.dropped)
        if self.errors:
            self.stats["host_errors"] = dict(self.errors)

    # -- the run -------------------------------------------------------------------------------
    def run(self, alive: Callable[[], set[int]] | None = None) -> dict:
        spec = self.spec
        rng = random.Random(spec.seed)
        sampler = LengthSampler(self.inputs.tolist(), self.outputs.tolist(), rng, "lengths")
        duration = spec.duration_s
        offline = spec.mode == "offline"
        if offline:
            feeder = OfflineFeeder(
                spec.n_init, duration, on_prompt=self.router is not None and spec.feed == "paper"
            )
            pending = [(t, None, None) for t in feeder.initial_times(0.1)]
        else:
            if spec.rate_tps is None:
                raise HelixInputError("prototype", "rate_tps", "an online run needs rate_tps")
            pending = [
                (t, a, b)
                for t, a, b in online_arrivals(self.arrival_counts, sampler, spec.rate_tps, 0.0, duration)
            ]
        pending.reverse()  # pop from the end = earliest first
        next_rid = 0
        rel = self._rel
        paper_feed = spec.feed == "paper"

        def relaunch(at: float) -> None:
            pending.append((at, None, None))
            pending.sort(key=lambda x: -x[0])

        def on_fail(rid: int, reason: str) -> None:
            if self._fail_rid(rid, reason) is not None and offline:
                relaunch(rel() + 0.1)

        def feed(now_rel: float) -> None:
            if (
                offline
                and now_rel + 0.1 < duration
                and (self.router is None or not paper_feed or self.router.may_launch())
            ):
                relaunch(now_rel + 0.1)

        poller = self._begin()
        cpu0 = time.process_time()  # the serving loop's CPU (the host process's threads), for benchmarks
        while True:
            now = rel()
            if now >= duration:
                break
            # launch what is due (a request the KV expectation rejects is retried at the next trigger)
            while pending and pending[-1][0] <= now:
                _, a, b = pending.pop()
                if a is None:
                    a, b = sampler.sample()
                self._launch(next_rid, a, b, now)
                next_rid += 1
            # tokens coming back (this also sends the prompts just launched and the next decodes)
            for what, req in self._drain_tokens(rel):
                if what == "finished" or what == "prompt" and self.router is not None and paper_feed:
                    feed(req.last_t)
            # liveness
            now = rel()
            for _ in self._liveness(now, alive, on_fail):
                if offline:
                    relaunch(now + 0.1)
            if self.dead and not check_routable(self.cfg, self.dead):
                self.log(f"no complete route left at t={now:.2f} s; ending the run")
                self.stats["ended_early"] = round(now, 3)
                break
            self._beat(now)
            self._flush(rel())
            wait = 20 if not pending else max(0, min(20, int((pending[-1][0] - rel()) * 1000)))
            poller.poll(timeout=wait)
        end = rel()
        for req in self.requests.values():
            if req.status == "running":
                req.status = "unfinished"
        loop_cpu = round(time.process_time() - cpu0, 3)
        return self._end_stats(duration_s=duration, wall_end_s=round(end, 3), host_loop_cpu_s=loop_cpu)

    # -- serving -------------------------------------------------------------------------------
    def serve(
        self,
        submissions: "queue.Queue[Submission]",
        stop,
        wake_fd: int | None = None,
        alive: Callable[[], set[int]] | None = None,
        stall_s: float = 120.0,
        queue_s: float = 60.0,
    ) -> dict:
        """Serve requests handed in through ``submissions`` until ``stop`` (a threading.Event) is set.

        Each is scheduled exactly as the workload generator's are (``_launch``); one the scheduler
        cannot place yet waits up to ``queue_s``; with no complete route left it fails at once.
        Every request ends with ("done", reason) or ("error", text) on its sink: a worker that dies
        fails the requests routed through it, and one that makes no progress for ``stall_s`` fails.
        """
        backlog: list[tuple[float, Submission]] = []
        next_rid = 0
        rel = self._rel

        def on_fail(rid: int, reason: str) -> None:
            self._fail_rid(rid, reason)

        poller = self._begin(wake_fd)
        while not stop.is_set():
            mono = time.monotonic()
            while True:
                try:
                    backlog.append((mono, submissions.get_nowait()))
                except queue.Empty:
                    break
            if backlog:
                routable = check_routable(self.cfg, self.dead) if self.dead else True
                waiting = []
                for t0, sub in backlog:
                    if not routable:
                        sub.sink.put(("unavailable", "no complete route through live workers"))
                        continue
                    try:
                        req = self._launch(next_rid, 0, 0, rel(), sub)
                    except Exception as exc:  # noqa: BLE001 - one request's fault is that request's
                        self.errors["internal"] += 1
                        sub.sink.put(("error", f"host error: {type(exc).__name__}: {exc}"))
                        continue
                    if req is None:
                        if mono - t0 > queue_s:
                            sub.sink.put(("unavailable", f"no route had room for {queue_s:g} s"))
                        else:
                            waiting.append((t0, sub))
                        continue
                    sub.rid = req.rid
                    next_rid += 1
                backlog = waiting
            self._drain_tokens(rel)
            now = rel()
            self._liveness(now, alive, on_fail)
            mono = time.monotonic()
            for req in list(self.requests.values()):
                if req.status == "running" and mono - req.last_progress > stall_s:
                    self._fail(req, now, f"no progress for {stall_s:g} s")
            self._beat(now)
            self._flush(rel())
            for fd, _ in poller.poll(timeout=100 if not backlog else 20):
                if fd == wake_fd:
                    try:
                        os.read(wake_fd, 4096)
                    except BlockingIOError:
                        pass
        now = rel()
        for req in self.requests.values():
            if req.status == "running":
                self._fail(req, now, "server stopping")
        for _, sub in backlog:
            sub.sink.put(("unavailable", "server stopping"))
        return self._end_stats(duration_s=round(now, 3))

    def stop(self) -> None:
        for _ in range(3):
            self._broadcast({"type": "stop"})
            time.sleep(0.05)

    # -- outputs -------------------------------------------------------------------------------
    def route_rows(self) -> list[dict]:
        rows = []
        for rid in sorted(self.requests):
            r = self.requests[rid]
            rows.append(
                {
                    "request_id": rid,
                    "input_len": r.input_len,
                    "output_len": r.output_len,
                    "nodes": " ".join(str(n) for n, _, _ in r.route),
                    "machines": " ".join(self.cfg.node(n).name for n, _, _ in r.route),
                    "starts": " ".join(str(s) for _, s, _ in r.route),
                    "ends": " ".join(str(e) for _, _, e in r.route),
                    "status": r.status,
                }
            )
        return rows

    def token_rows(self) -> list[dict]:
        return [
            {
                "request_id": rid,
                "prompt": " ".join(map(str, r.prompt)),
                "output": " ".join(map(str, r.tokens)),
                "status": r.status,
            }
            for rid, r in sorted(self.requests.items())
        ]


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
