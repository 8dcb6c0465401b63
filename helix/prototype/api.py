"""An OpenAI-compatible HTTP endpoint on the host (standard library only: ``http.server``).

Off unless asked for (``helix serve --http-port``) and bound to 127.0.0.1 unless another address is
given. Routes: ``POST /v1/completions``, ``POST /v1/chat/completions`` (``"stream": true`` answers
with server-sent events ending in ``data: [DONE]``), ``GET /v1/models``, ``GET /health``.
Decoding is greedy, as everywhere in the prototype: ``temperature`` (0), ``top_p`` (1) and ``n`` (1)
are accepted only at values that mean greedy, so a client never silently gets something else than
it asked for. Generation stops at the model's EOS or ``max_tokens``.

Errors use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: 400 for a bad body
(unknown fields, wrong types, a prompt longer than the model's positions, ``max_tokens`` <= 0, an
unknown model; ``param`` names the field), 404 for an unknown path, 503 when no complete route
through live workers exists, 500 when a worker died under the request (an error, never a hang:
the host fails every request routed through a dead worker within its heartbeat timeout).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helix.errors import HelixInputError
from helix.prototype.serving import Deployment, RequestFailed
from helix.prototype.text import Detokenizer, TextCodec

COMMON = {
    "model",
    "max_tokens",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "user",
    "seed",
    "stop",
}
COMPLETION_FIELDS = COMMON | {"prompt", "echo", "logprobs"}
CHAT_FIELDS = COMMON | {"messages", "max_completion_tokens", "logprobs"}
MAX_BODY = 8 << 20


class BadRequest(Exception):
    def __init__(
        self, message: str, param: str | None = None, status: int = 400, kind: str = "invalid_request_error"
    ):
        super().__init__(message)
        self.message, self.param, self.status, self.kind = message, param, status, kind


def error_body(
    message: str, param: str | None = None, kind: str = "invalid_request_error", code: str | None = None
) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class Endpoint:
    """What the HTTP handlers need: the deployment, the text codec, the served model's name."""

    def __init__(self, deployment: Deployment, codec: TextCodec, model_name: str):
        self.dep, self.codec, self.model_name = deployment, codec, model_name
        self.created = int(time.time())
        self._ids = 0
        self._lock = threading.Lock()

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}-{self._ids}"

    # -- request bodies ------------------------------------------------------------------------
    def parse(self, body: dict, chat: bool) -> tuple[list[int], int, bool, bool]:
        """(prompt ids, max_tokens, stream, include_usage) or BadRequest naming the field."""
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        allowed = CHAT_FIELDS if chat else COMPLETION_FIELDS
        for k in body:
            if k not in allowed:
                raise BadRequest(f"unknown field {k!r}", k)
        model = body.get("model")
        if not isinstance(model, str):
            raise BadRequest("'model' is required (a string)", "model")
        if model != self.model_name:
            raise BadRequest(
                f"unknown model {model!r}; this server serves {self.model_name!r}",
                "model",
                kind="invalid_request_error",
                status=400,
            )
        _greedy(body)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("'stream' must be a boolean", "stream")
        opts = body.get("stream_options")
        if opts is not None and (not isinstance(opts, dict) or set(opts) - {"include_usage"}):
            raise BadRequest("'stream_options' may only hold include_usage", "stream_options")
        include_usage = bool(opts and opts.get("include_usage"))
        key = (
            "max_completion_tokens"
            if chat and body.get("max_completion_tokens") is not None
            else "max_tokens"
        )
        max_tokens = body.get(key, 16)
        if max_tokens is None:
            max_tokens = 16
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0:
            raise BadRequest(f"'{key}' must be a positive integer", key)
        for k in ("echo", "logprobs"):
            if body.get(k) not in (None, False, 0):
                raise BadRequest(f"'{k}' is not supported", k)
        if body.get("stop") not in (None, [], ""):
            raise BadRequest(
                "'stop' sequences are not supported; generation stops at EOS or max_tokens", "stop"
            )
        if chat:
            ids = self.codec.encode_chat(_messages(body.get("messages")))
            field = "messages"
        else:
            ids = self._prompt(body.get("prompt"))
            field = "prompt"
        try:
            self.dep.check_request(ids, max_tokens)
        except HelixInputError as exc:
            raise BadRequest(exc.message, key if exc.field == "max_tokens" else field) from None
        return ids, max_tokens, stream, include_usage

    def _prompt(self, prompt) -> list[int]:
        if isinstance(prompt, str):
            return self.codec.encode(prompt)
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            return self.codec.encode(prompt[0])
        if (
            isinstance(prompt, list)
            and prompt
            and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
        ):
            return list(prompt)
        if isinstance(prompt, list) and len(prompt) > 1:
            raise BadRequest(
                "one prompt per request (send several requests; they are batched by the workers)", "prompt"
            )
        raise BadRequest("'prompt' must be a string or a list of token ids", "prompt")


def _greedy(body: dict) -> None:
    checks = (
        ("temperature", lambda v: v in (0, 0.0)),
        ("top_p", lambda v: v in (1, 1.0)),
        ("n", lambda v: v == 1),
    )
    for k, ok in checks:
        v = body.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not ok(v)):
            raise BadRequest(f"'{k}'={v!r}: this server decodes greedily (temperature 0, top_p 1, n 1)", k)


def _messages(msgs) -> list[dict]:
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest("'messages' must be a non-empty list", "messages")
    out = []
    for i, m in enumerate(msgs):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or set(m) - {"role", "content", "name"}
        ):
            raise BadRequest(f"messages[{i}] must be {{role, content}}", f"messages[{i}]")
        content = m.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
            if not all(
                isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                for p in content
            ):
                raise BadRequest(
                    f"messages[{i}].content: only text parts are supported", f"messages[{i}].content"
                )
            content = "".join(p["text"] for p in content)
        if not isinstance(content, str):
            raise BadRequest(f"messages[{i}].content must be text", f"messages[{i}].content")
        out.append({"role": m["role"], "content": content})
    return out


def make_handler(ep: Endpoint):
    class Handler(BaseHTTPRequestHandler):
        server_version = "helix-prototype"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the host logs what matters
            pass

        # -- plumbing ---------------------------------------------------------------------
        def _json(self, status: int, obj: dict) -> None:
            raw = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(
            self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"
        ) -> None:
            self._json(status, error_body(message, param, kind))

        def _body(self):
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise BadRequest("bad Content-Length") from None
            if n <= 0 or n > MAX_BODY:
                raise BadRequest("a JSON body is required" if n <= 0 else "body too large")
            try:
                return json.loads(self.rfile.read(n))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadRequest(f"the body is not JSON: {exc}") from None

        # -- routes -----------------------------------------------------------------------
        def do_GET(self):
            path = self.path.split("?")[0].rstrip("/")
            if path == "/health":
                ok = ep.dep.healthy()
                self._json(200 if ok else 503, {"status": "ok" if ok else "unavailable"})
            elif path == "/v1/models":
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": ep.model_name,
                                "object": "model",
                                "created": ep.created,
                                "owned_by": "helix",
                            }
                        ],
                    },
                )
            else:
                self._error(404, f"no route {self.path}", kind="not_found_error")

        def do_POST(self):
            path = self.path.split("?")[0].rstrip("/")
            if path not in ("/v1/completions", "/v1/chat/completions"):
                self._error(404, f"no route {self.path}", kind="not_found_error")
                return
            chat = path.endswith("chat/completions")
            try:
                ids, max_tokens, stream, include_usage = ep.parse(self._body(), chat)
            except BadRequest as exc:
                self._error(exc.status, exc.message, exc.param, exc.kind)
                return
            if not ep.dep.healthy():
                self._error(503, "no complete route through live workers", kind="service_unavailable")
                return
            sub = ep.dep.submit(ids, max_tokens)
            if stream:
                self._stream(sub, ids, chat, include_usage)
            else:
                self._whole(sub, ids, chat)

        def _whole(self, sub, ids, chat):
            from helix.prototype.serving import collect

            try:
                toks, reason = collect(sub, ep.dep.stall_s + 30)
            except RequestFailed as exc:
                if exc.unavailable:
                    self._error(503, str(exc), kind="service_unavailable")
                else:
                    self._error(500, f"request failed: {exc}", kind="server_error")
                return
            text = ep.codec.decode(toks)
            usage = {
                "prompt_tokens": len(ids),
                "completion_tokens": len(toks),
                "total_tokens": len(ids) + len(toks),
            }
            if chat:
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                    "logprobs": None,
                }
                obj = {
                    "id": ep.next_id("chatcmpl"),
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": ep.model_name,
                    "choices": [choice],
                    "usage": usage,
                }
            else:
                choice = {"index": 0, "text": text, "finish_reason": reason, "logprobs": None}
                obj = {
                    "id": ep.next_id("cmpl"),
                    "object": "text_completion",
                    "created": int(time.time()),
                    "model": ep.model_name,
                    "choices": [choice],
                    "usage": usage,
                }
            self._json(200, obj)

        def _stream(self, sub, ids, chat, include_usage):
            import queue

            rid = ep.next_id("chatcmpl" if chat else "cmpl")
            created = int(time.time())
            obj_type = "chat.completion.chunk" if chat else "text_completion"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

            def send(obj) -> None:
                self.wfile.write(
                    b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
                )
                self.wfile.flush()

            def chunk(text: str | None, reason: str | None, role: bool = False) -> dict:
                if chat:
                    delta = (
                        {"role": "assistant", "content": ""} if role else ({"content": text} if text else {})
                    )
                    choice = {"index": 0, "delta": delta, "finish_reason": reason, "logprobs": None}
                else:
                    choice = {"index": 0, "text": text or "", "finish_reason": reason, "logprobs": None}
                return {
                    "id": rid,
                    "object": obj_type,
                    "created": created,
                    "model": ep.model_name,
                    "choices": [choice],
                }

            detok = Detokenizer(ep.codec)
            n = 0
            try:
                if chat:
                    send(chunk(None, None, role=True))
                while True:
                    try:
                        kind, value = sub.sink.get(timeout=ep.dep.stall_s + 30)
                    except queue.Empty:
                        kind, value = "error", "no answer from the workers"
                    if kind == "token":
                        n += 1
                        piece = detok.push(value)
                        if piece:
                            send(chunk(piece, None))
                    elif kind == "done":
                        rest = detok.flush()
                        if rest:
                            send(chunk(rest, None))
                        send(chunk(None, value))
                        if include_usage:
                            send(
                                {
                                    "id": rid,
                                    "object": obj_type,
                                    "created": created,
                                    "model": ep.model_name,
                                    "choices": [],
                                    "usage": {
                                        "prompt_tokens": len(ids),
                                        "completion_tokens": n,
                                        "total_tokens": len(ids) + n,
                                    },
                                }
                            )
                        break
                    else:  # the status line is gone: an error event, then the end of the stream
                        send(error_body(f"request failed: {value}", kind="server_error"))
                        break
                send(b"[DONE]")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away; the request runs to its end on the workers

    return Handler


def make_server(
    deployment: Deployment, codec: TextCodec, model_name: str, host: str = "127.0.0.1", port: int = 8000
) -> ThreadingHTTPServer:
    """A threaded HTTP server (call ``serve_forever``; ``server_address`` has the bound port)."""
    srv = ThreadingHTTPServer((host, port), make_handler(Endpoint(deployment, codec, model_name)))
    srv.daemon_threads = True
    return srv
