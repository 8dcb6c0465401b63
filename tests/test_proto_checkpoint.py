"""Hugging Face checkpoints in the prototype: our layers compute what LlamaForCausalLM computes, a
worker reads only its range's shards and tensors, and a bad checkpoint is a one-line error first."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from proto_tiny import LAYERS, make_checkpoint  # noqa: E402

from helix.errors import HelixInputError  # noqa: E402
from helix.prototype.checkpoint import Checkpoint, check_checkpoint_ranges  # noqa: E402
from helix.prototype.engines import StageWork, get_engine  # noqa: E402
from helix.prototype.model import LayerCache, LlamaConfig  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("ck") / "tiny"
    return path, make_checkpoint(path)


def test_every_layer_matches_transformers_hidden_states(ckpt):
    """fp32: per-layer hidden states of our layers (loaded from the shards) equal HF's within 1e-4,
    for a prompt pass and for decode steps against the KV cache."""
    path, model = ckpt
    cfg = LlamaConfig.from_json(path / "config.json")
    assert (cfg.num_kv_heads, cfg.num_heads, cfg.num_layers) == (2, 4, LAYERS)
    eng = get_engine("torch")(cfg, (0, LAYERS), checkpoint=str(path))
    ids = [1, 40, 41, 7, 99, 250, 13, 5]
    with torch.no_grad():
        hf = model(torch.tensor([ids]), output_hidden_states=True)
    hs = hf.hidden_states  # embeddings, then after each layer (the last one after the final norm)
    caches = [LayerCache(cfg, 16, "cpu", torch.float32) for _ in range(LAYERS)]
    with torch.inference_mode():
        x = eng.embed(torch.tensor(ids, dtype=torch.int32))
        assert (x - hs[0][0]).abs().max() == 0
        for i in range(LAYERS):
            x = eng.layers[i].forward_prompt(x, caches[i])
            ref = hs[i + 1][0] if i < LAYERS - 1 else None
            if ref is not None:
                assert (x - ref).abs().max().item() < 1e-4, i
        assert (eng.head.norm(x) - hs[LAYERS][0]).abs().max().item() < 1e-4
        logits = torch.nn.functional.linear(eng.head.norm(x), eng.head.weight)
        assert (logits - hf.logits[0]).abs().max().item() < 1e-4
        # two decode steps at positions 8, 9 against the cache == HF on the longer sequence
        seq = list(ids)
        for _ in range(2):
            nxt = int(eng.head(x[-1:])[0])
            pos = len(seq)
            seq.append(nxt)
            with torch.no_grad():
                hs2 = model(torch.tensor([seq]), output_hidden_states=True).hidden_states
            x = eng.embed(torch.tensor([nxt], dtype=torch.int32))
            for i in range(LAYERS):
                x = eng.layers[i].forward_decode(x, [caches[i]], torch.tensor([pos]))
                if i < LAYERS - 1:
                    assert (x[0] - hs2[i + 1][0, -1]).abs().max().item() < 1e-4, (pos, i)


def test_a_worker_opens_only_its_shards_and_reads_only_its_tensors(ckpt):
    path, _ = ckpt
    ck = Checkpoint(path)
    wm = ck.weight_map
    first, last = wm["model.embed_tokens.weight"], wm["lm_head.weight"]
    assert first != last  # two shards: the embedding in one, the head in the other
    head_range = (LAYERS - 1, LAYERS)
    t = ck.load(*head_range)
    assert set(t) == {
        f"model.layers.{LAYERS - 1}.{n}"
        for n in (
            "self_attn.q_proj.weight",
            "self_attn.k_proj.weight",
            "self_attn.v_proj.weight",
            "self_attn.o_proj.weight",
            "mlp.gate_proj.weight",
            "mlp.up_proj.weight",
            "mlp.down_proj.weight",
            "input_layernorm.weight",
            "post_attention_layernorm.weight",
        )
    } | {"model.norm.weight", "lm_head.weight"}
    assert [p.name for p in ck.opened] == sorted({wm[n] for n in t})
    t0 = ck.load(0, 1)
    assert "model.embed_tokens.weight" in t0 and "lm_head.weight" not in t0 and "model.norm.weight" not in t0
    assert [p.name for p in ck.opened] == [first]  # layer 0 and the embedding live in the first shard
    assert sum(v.numel() for v in t0.values()) < sum(v.numel() for v in ck.load(0, LAYERS).values()) / 2


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_checkpoints_load(tmp_path, dtype):
    model = make_checkpoint(tmp_path / dtype, dtype=dtype, tokenizer=False)
    cfg = LlamaConfig.from_json(tmp_path / dtype / "config.json")
    eng = get_engine("torch")(cfg, (0, LAYERS), checkpoint=str(tmp_path / dtype), dtype=dtype)
    want = model.model.layers[2].self_attn.q_proj.weight.to(getattr(torch, dtype))
    assert eng.layers[2].wq.dtype == getattr(torch, dtype) and torch.equal(eng.layers[2].wq, want)
    eng.submit(StageWork(0, "prompt", 0, LAYERS, torch.tensor([1, 2, 3], dtype=torch.int32), 8))
    (out,) = eng.step()
    assert out.error is None and out.is_token


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_bad_checkpoints_are_one_line_errors_naming_file_and_tensor(ckpt, tmp_path):
    from safetensors.torch import load_file, save_file

    path, _ = ckpt
    # a tensor missing from the index
    bad = _copy(path, tmp_path / "missing")
    idx = json.loads((bad / "model.safetensors.index.json").read_text())
    del idx["weight_map"]["model.layers.3.mlp.up_proj.weight"]
    (bad / "model.safetensors.index.json").write_text(json.dumps(idx))
    check_checkpoint_ranges(bad, [(0, 3)])  # a range that does not need it is fine
    with pytest.raises(HelixInputError) as e:
        check_checkpoint_ranges(bad, [(0, 3), (3, LAYERS)])
    msg = str(e.value)
    assert (
        "model.safetensors.index.json" in msg
        and "model.layers.3.mlp.up_proj.weight" in msg
        and "\n" not in msg
    )
    # a shape that disagrees with config.json
    bad = _copy(path, tmp_path / "shape")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["intermediate_size"] = 96
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(
        HelixInputError,
        match=r"model-0000\d-of-00002.safetensors: model.layers.0.mlp.(gate|up|down)_proj.weight: "
        r"shape disagrees with config.json",
    ):
        check_checkpoint_ranges(bad, [(0, LAYERS)])
    # a dtype that cannot run (float64 here), in the shard holding the head
    bad = _copy(path, tmp_path / "dtype")
    shard = (
        bad / json.loads((bad / "model.safetensors.index.json").read_text())["weight_map"]["lm_head.weight"]
    )
    tensors = load_file(str(shard))
    tensors["lm_head.weight"] = tensors["lm_head.weight"].double()
    save_file(tensors, str(shard), metadata={"format": "pt"})
    check_checkpoint_ranges(bad, [(0, 2)])
    with pytest.raises(HelixInputError, match=rf"{shard.name}: lm_head.weight: dtype not supported .*F64"):
        check_checkpoint_ranges(bad, [(2, LAYERS)])
    # the layout and the checkpoint disagree on the layer count; no checkpoint at all
    with pytest.raises(HelixInputError, match="num_hidden_layers"):
        check_checkpoint_ranges(path, [(0, 8)], num_layers=8)
    with pytest.raises(HelixInputError, match="checkpoint directory not found"):
        Checkpoint(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(path / "config.json", empty / "config.json")
    with pytest.raises(HelixInputError, match="not a safetensors checkpoint"):
        Checkpoint(empty)


def test_missing_tokenizer_and_bad_checkpoint_stop_helix_serve_before_any_worker(ckpt, tmp_path, capsys):
    """`helix serve` with a checkpoint: every error comes before a worker process starts."""
    from helix.cli import main
    from helix.prototype.text import TextCodec

    path, _ = ckpt
    bad = _copy(path, tmp_path / "notok")
    (bad / "tokenizer.json").unlink()
    with pytest.raises(HelixInputError, match=r"tokenizer.json: tokenizer not found"):
        TextCodec(bad)
    layout = tmp_path / "layout.yaml"
    layout.write_text(f"num_layers: {LAYERS}\nlayers:\n  a: [0, 3]\n  b: [3, {LAYERS}]\n")
    code = main(
        [
            "serve",
            "--layout",
            str(layout),
            "--checkpoint",
            str(bad),
            "--http-port",
            "0",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code != 0 and "tokenizer.json" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "work").exists()  # nothing was launched
    shard = (
        bad
        / json.loads((bad / "model.safetensors.index.json").read_text())["weight_map"]["model.norm.weight"]
    )
    shard.write_bytes(b"\x00" * 16)  # a truncated shard
    code = main(
        [
            "serve",
            "--layout",
            str(layout),
            "--checkpoint",
            str(bad),
            "--out",
            str(tmp_path / "o2"),
            "--duration-s",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code != 0 and shard.name in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o2" / "work").exists()


def test_a_device_or_dtype_this_machine_cannot_run_is_an_error_before_any_worker(ckpt, tmp_path, capsys):
    from helix.cli import main

    path, _ = ckpt
    layout = tmp_path / "layout.yaml"
    layout.write_text(f"num_layers: {LAYERS}\nlayers:\n  a: [0, 3]\n  b: [3, {LAYERS}]\n")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(
        [
            "serve",
            "--layout",
            str(layout),
            "--checkpoint",
            str(path),
            "--device",
            "cuda",
            "--http-port",
            "0",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "device" in err and "CUDA is not available" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "work").exists()
