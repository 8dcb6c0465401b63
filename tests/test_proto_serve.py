"""A real checkpoint served by live workers, checked against ``transformers``, and its OpenAI endpoint
driven by the official ``openai`` client.

One tiny random LLaMA checkpoint (tests/proto_tiny.py: GQA, 6 layers, two safetensors shards, a BPE
tokenizer.json) and one deployment (host + 4 worker processes on a branching, overlapping layout)
serve the whole module: start-up is most of its cost. The last test kills workers, so it runs last.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
openai = pytest.importorskip("openai")
pytest.importorskip("tokenizers")

from proto_tiny import make_checkpoint  # noqa: E402

from helix.layout import Layout  # noqa: E402
from helix.prototype.api import make_server  # noqa: E402
from helix.prototype.serving import Deployment, serving_spec  # noqa: E402
from helix.prototype.text import TextCodec  # noqa: E402

pytestmark = pytest.mark.slow

# a [0,2) and b [0,4) start; d [2,6) continues a; c [4,6) continues b; a -> b runs [2,4) (partial),
# b -> d runs [4,6) (partial). Routes: a>d, a>b>c, a>b>d, b>c, b>d.
LAYOUT = Layout(6, {"a": (0, 2), "b": (0, 4), "c": (4, 6), "d": (2, 6)})
PROMPTS = [
    "Helix",
    "The placement is found by max-flow",
    "hello world, the quick brown fox jumps over the lazy dog",
    "Each worker",
]
NEW = 12


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("serve")
    ckpt = d / "tiny-llama-ckpt"
    model = make_checkpoint(ckpt)
    spec = serving_spec(model="tiny", layer_tps=1000, startup_timeout_s=180, heartbeat_timeout_s=2.0)
    dep = Deployment(LAYOUT, spec, checkpoint=ckpt, work_dir=d / "work", stall_s=60).start()
    codec = TextCodec(ckpt, dep.model.vocab_size)
    srv = make_server(dep, codec, "tiny", port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield {"dep": dep, "model": model, "codec": codec, "url": url, "ckpt": ckpt}
    srv.shutdown()
    srv.server_close()
    dep.close()


def _hf_greedy(model, ids: list[int], n: int) -> list[int]:
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, pad_token_id=0)
    return out[0, len(ids) :].tolist()


def test_greedy_generation_of_a_batch_equals_transformers_generate(served):
    """Four prompts of different lengths in flight together on the live deployment: exactly the
    tokens of LlamaForCausalLM.generate(do_sample=False), over several different routes."""
    dep, codec = served["dep"], served["codec"]
    prompts = [codec.encode(p) for p in PROMPTS]
    assert len({len(p) for p in prompts}) == len(prompts)
    subs = [dep.submit(p, NEW) for p in prompts]  # all queued before any comes back: one batch
    from helix.prototype.serving import collect

    got = [collect(s, 120) for s in subs]
    want = [_hf_greedy(served["model"], p, NEW) for p in prompts]
    assert [g[0] for g in got] == want
    assert len(set(map(tuple, want))) == len(want) and sum(map(len, want)) >= 2 * NEW  # not a trivial answer
    for (toks, reason), w in zip(got, want):
        assert reason == ("stop" if len(w) < NEW else "length")
    routes = {tuple(map(tuple, dep.host.requests[s.rid].route)) for s in subs}
    assert len(routes) >= 2, routes
    assert all(r[0][1] == 0 and r[-1][2] == 6 for r in routes)


def test_openai_client_completion_chat_and_streaming(served):
    client = openai.OpenAI(base_url=served["url"] + "/v1", api_key="unused", max_retries=0, timeout=120)
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny"]
    codec, model = served["codec"], served["model"]

    prompt = "The placement is found by"
    c = client.completions.create(model="tiny", prompt=prompt, max_tokens=10, temperature=0)
    want_ids = _hf_greedy(model, codec.encode(prompt), 10)
    assert c.choices[0].text == codec.decode(want_ids)
    assert c.usage.completion_tokens == len(want_ids) and c.usage.prompt_tokens == len(codec.encode(prompt))
    assert c.choices[0].finish_reason == ("stop" if len(want_ids) < 10 else "length")
    pieces = [
        ch.choices[0].text
        for ch in client.completions.create(model="tiny", prompt=prompt, max_tokens=10, stream=True)
    ]
    assert "".join(pieces) == c.choices[0].text and len(pieces) > 1

    messages = [
        {"role": "system", "content": "You route requests."},
        {"role": "user", "content": "hello world"},
    ]
    chat = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8)
    chat_ids = codec.encode_chat(messages)
    assert chat.choices[0].message.role == "assistant"
    assert chat.choices[0].message.content == codec.decode(_hf_greedy(model, chat_ids, 8))
    stream = client.chat.completions.create(model="tiny", messages=messages, max_tokens=8, stream=True)
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text == chat.choices[0].message.content


def _post(url: str, body, path="/v1/completions"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=raw, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bad_requests_get_openai_errors_naming_the_field(served):
    url = served["url"]
    ok = {"model": "tiny", "prompt": "hello", "max_tokens": 2}
    cases = [
        (dict(ok, frequency_penalty=0.5), "frequency_penalty"),
        (dict(ok, max_tokens=0), "max_tokens"),
        (dict(ok, max_tokens=-3), "max_tokens"),
        (dict(ok, model="gpt-4"), "model"),
        (dict(ok, prompt="hello " * 200), "prompt"),  # longer than the model's 96 positions
        (dict(ok, max_tokens=95), "max_tokens"),  # prompt + max_tokens past the positions
        (dict(ok, prompt=[1, 2, 100000]), "prompt"),  # token id outside the vocabulary
        (dict(ok, temperature=0.7), "temperature"),
        ({"prompt": "x"}, "model"),
    ]
    for body, field in cases:
        status, obj = _post(url, body)
        assert status == 400, (body, obj)
        assert (
            obj["error"]["param"] == field
            and obj["error"]["type"] == "invalid_request_error"
            and obj["error"]["message"]
        )
    status, obj = _post(url, b"{not json")
    assert status == 400 and "JSON" in obj["error"]["message"]
    status, obj = _post(url, {"model": "tiny", "messages": [{"role": "user"}]}, "/v1/chat/completions")
    assert status == 400 and obj["error"]["param"] == "messages[0].content"
    status, obj = _post(url, {"model": "tiny", "messages": [], "prompt": "x"}, "/v1/chat/completions")
    assert status == 400 and obj["error"]["param"] == "prompt"
    with urllib.request.urlopen(url + "/health", timeout=10) as r:
        assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    # the deployment still serves
    status, obj = _post(url, ok)
    assert status == 200 and obj["usage"]["completion_tokens"] >= 1


def test_helix_serve_cli_endpoint_answers_curl_style_requests_and_stops_on_sigint(served, tmp_path):
    """`helix serve --checkpoint D --http-port 0`: the README's command, queried as curl does."""
    import re
    import subprocess
    import sys

    layout = tmp_path / "layout.yaml"
    layout.write_text("num_layers: 6\nlayers:\n  a: [0, 3]\n  b: [3, 6]\n")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helix.cli",
            "serve",
            "--layout",
            str(layout),
            "--checkpoint",
            str(served["ckpt"]),
            "--http-port",
            "0",
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "helix serve exited early"
        url = re.search(r"(http://\S+)/v1", line).group(1)
        assert url.startswith("http://127.0.0.1:")
        status, obj = _post(url, {"model": served["ckpt"].name, "prompt": "Each worker", "max_tokens": 5})
        assert status == 200 and obj["object"] == "text_completion", obj
        codec = served["codec"]
        assert obj["choices"][0]["text"] == codec.decode(
            _hf_greedy(served["model"], codec.encode("Each worker"), 5)
        )
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert json.loads(stdout.strip().splitlines()[-1])["finished"] == 1
    assert (out / "events.csv").is_file() and "keys" not in (out / "system_config.yaml").read_text()


def test_a_dead_worker_fails_its_request_cleanly_then_no_route_is_503(served):
    """Kill a worker under a long request: the client gets an error within seconds, not a hang;
    with every route gone, /health and requests answer 503."""
    dep, url = served["dep"], served["url"]
    pids = dep._launcher.pids()
    ids = {n.name: n.id for n in dep.cfg.workers}
    result = {}

    def call():
        result["r"] = _post(url, {"model": "tiny", "prompt": [1, 5, 9], "max_tokens": 90})

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 30
    route = None
    while time.monotonic() < deadline and route is None:
        running = [r for r in list(dep.host.requests.values()) if r.status == "running" and r.input_len == 3]
        if running and len(running[0].tokens) >= 2:
            route = running[0].route
        time.sleep(0.01)
    assert route is not None
    victim = route[-1][0]
    t0 = time.monotonic()
    os.kill(pids[victim], signal.SIGKILL)
    t.join(timeout=30)
    assert not t.is_alive(), "the request hung after its worker died"
    assert time.monotonic() - t0 < 15
    status, obj = result["r"]
    assert status == 500 and f"worker {victim} died" in obj["error"]["message"]
    # kill the other last-stage worker too: no complete route left
    other = ids["d"] if victim == ids["c"] else ids["c"]
    os.kill(pids[other], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and dep.healthy():
        time.sleep(0.05)
    status, obj = _post(url, {"model": "tiny", "prompt": "hello", "max_tokens": 2})
    assert status == 503 and obj["error"]["type"] == "service_unavailable"
    try:
        urllib.request.urlopen(url + "/health", timeout=10)
        raise AssertionError("health should be 503")
    except urllib.error.HTTPError as e:
        assert e.code == 503
