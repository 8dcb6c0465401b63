"""A long-running deployment: workers plus a serving host on its own thread, fed request by request.

``run_prototype`` serves a generated workload for a fixed time; a ``Deployment`` instead takes
requests from callers (the OpenAI-compatible endpoint in ``helix.prototype.api``, tests, scripts)
until it is closed. Requests are scheduled onto routes exactly like the workload generator's
(``Host._launch``: the helix scheduler's max-flow + IWRR + KV expectation, or the swarm/random
hop-by-hop choices). ``generate`` blocks for one request; ``submit`` returns its event queue.

    with Deployment(layout, spec, checkpoint="ckpt/") as dep:
        tokens, reason = dep.generate([1, 15, 27], max_tokens=16)
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

from helix.cluster import Cluster
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.prototype.host import Host, Submission, log_stderr
from helix.prototype.launch import LocalLauncher, RayLauncher
from helix.prototype.routing import check_scheduler
from helix.prototype.settings import ProtoRunSpec
from helix.prototype.sysconfig import build_system_config, check_routable


class RequestFailed(RuntimeError):
    """The request could not be served (worker died, no route, stalled); ``unavailable``: no
    complete route right now (HTTP 503) rather than a failure mid-request."""

    def __init__(self, message: str, unavailable: bool = False):
        super().__init__(message)
        self.unavailable = unavailable


class Deployment:
    def __init__(
        self,
        layout: Layout,
        spec: ProtoRunSpec,
        *,
        model_config: str | Path | None = None,
        checkpoint: str | Path | None = None,
        cluster: Cluster | None = None,
        base_port: int | None = None,
        work_dir: str | Path,
        log=log_stderr,
        stall_s: float = 120.0,
    ):
        from helix.prototype.run import check_local_device, resolve_model

        check_scheduler(spec.scheduler)
        self.spec, self.log, self.stall_s = spec, log, stall_s
        self.model, self.model_config = resolve_model(layout, model_config, checkpoint, spec.model)
        check_local_device(spec)
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.cfg = build_system_config(layout, cluster, base_port=base_port)
        self.work = Path(work_dir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.submissions: queue.Queue[Submission] = queue.Queue()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.host: Host | None = None
        self.stats: dict | None = None
        self._thread: threading.Thread | None = None
        self._launcher = None
        self._error: BaseException | None = None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> "Deployment":
        """Launch the workers and wait until every one is ready (StartupError otherwise)."""
        spec = self.spec
        cfg_path = self.work / "system_config.yaml"
        if spec.launcher == "ray":
            self._launcher = RayLauncher(
                self.cfg, self.model_config, spec.model, spec, checkpoint=self.checkpoint
            )
        self.cfg.save(cfg_path)
        bound, ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(
            target=self._host_thread, args=(bound, ready), name="helix-host", daemon=True
        )
        self._thread.start()
        bound.wait()
        if self._error is None and spec.launcher == "local":
            self._launcher = LocalLauncher(
                self.cfg,
                str(cfg_path),
                self.model_config,
                spec.model,
                spec,
                self.work,
                checkpoint=self.checkpoint,
            )
        ready.wait()
        if self._error is not None:
            self.close()
            raise self._error
        return self

    def _host_thread(self, bound: threading.Event, ready: threading.Event) -> None:
        try:
            self.host = Host(
                self.cfg,
                self.spec,
                self.model.vocab_size,
                None,
                log=self.log,
                max_position=self.model.max_position,
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of start()
            self._error = exc
            bound.set()
            ready.set()
            return
        bound.set()
        try:
            while self._launcher is None and self._error is None:
                self._stop.wait(0.01)
            self.host.wait_ready(
                self.spec.startup_timeout_s, self._launcher.alive, getattr(self._launcher, "last_line", None)
            )
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            ready.set()
            return
        ready.set()
        try:
            self.stats = self.host.serve(
                self.submissions, self._stop, self._wake_r, self._launcher.alive, stall_s=self.stall_s
            )
        except BaseException as exc:  # noqa: BLE001 - a host fault: every waiting caller gets an error
            self._error = exc
            self.log(f"host stopped: {type(exc).__name__}: {exc}")
            self._fail_everything(f"host error: {exc}")

    def _fail_everything(self, reason: str) -> None:
        while True:
            try:
                self.submissions.get_nowait().sink.put(("error", reason))
            except queue.Empty:
                break
        for req in list(self.host.requests.values()) if self.host else []:
            if req.status == "running":
                req.emit("error", reason)

    def close(self) -> dict:
        """Stop the host and the workers; returns the host's stats."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.host is not None:
            self.host.stop()
        codes = self._launcher.shutdown() if self._launcher is not None else {}
        if self.host is not None:
            self.host.close()
            self.host = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1
        stats = dict(self.stats or {})
        stats["worker_exit_codes"] = {str(k): v for k, v in codes.items()}
        return stats

    def __enter__(self) -> "Deployment":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (OSError, ValueError):
            pass

    def check_request(self, prompt: list[int], max_tokens: int) -> None:
        """What the endpoint turns into a 400: raised as HelixInputError naming the field."""
        m = self.model
        if not prompt:
            raise HelixInputError("request", "prompt", "the prompt is empty")
        if any(not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < m.vocab_size for t in prompt):
            raise HelixInputError("request", "prompt", f"token ids must be integers in [0, {m.vocab_size})")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
            raise HelixInputError("request", "max_tokens", "must be a positive integer", max_tokens)
        if len(prompt) >= m.max_position:
            raise HelixInputError(
                "request", "prompt", f"{len(prompt)} tokens; the model has {m.max_position} positions"
            )
        if len(prompt) + max_tokens > m.max_position:
            raise HelixInputError(
                "request",
                "max_tokens",
                f"prompt ({len(prompt)} tokens) + max_tokens exceed the model's {m.max_position} positions",
                max_tokens,
            )

    def submit(self, prompt: list[int], max_tokens: int, stop_at_eos: bool = True) -> Submission:
        """Queue one request; its ``sink`` gets ("token", id)..., then ("done", "stop"|"length") or
        ("error"|"unavailable", text)."""
        self.check_request(prompt, max_tokens)
        sub = Submission(list(prompt), int(max_tokens), self.model.eos_token_ids if stop_at_eos else ())
        if self._stop.is_set() or self._error is not None:
            sub.sink.put(("unavailable", "the deployment is not serving"))
            return sub
        self.submissions.put(sub)
        self._wake()
        return sub

    def generate(
        self, prompt: list[int], max_tokens: int, stop_at_eos: bool = True, timeout_s: float | None = None
    ):
        """Greedy tokens of one request and why it ended ("stop" at EOS or "length")."""
        sub = self.submit(prompt, max_tokens, stop_at_eos)
        return collect(sub, timeout_s or self.stall_s + 30)

    def healthy(self) -> bool:
        """A complete route exists through workers not known dead, and the host is serving."""
        host = self.host
        if host is None or self._error is not None or self._stop.is_set():
            return False
        return check_routable(self.cfg, set(host.dead)) if host.dead else True


def collect(sub: Submission, timeout_s: float) -> tuple[list[int], str]:
    """Wait for a submission to end; RequestFailed on error (never waits past ``timeout_s``
    without an event)."""
    toks: list[int] = []
    while True:
        try:
            kind, value = sub.sink.get(timeout=timeout_s)
        except queue.Empty:
            raise RequestFailed(f"no answer for {timeout_s:g} s") from None
        if kind == "token":
            toks.append(value)
        elif kind == "done":
            return toks, value
        else:
            raise RequestFailed(value, unavailable=kind == "unavailable")


def serving_spec(**fields) -> ProtoRunSpec:
    """Settings of a serving deployment: the helix scheduler in online mode unless told otherwise."""
    base = dict(cluster="serve", model="model", method="serve", scheduler="helix", mode="online")
    base.update(fields)
    return ProtoRunSpec.model_validate(base)
