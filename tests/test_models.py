"""Model specs from HF config.json: shapes and byte counts that placement and simulation rely on."""

from __future__ import annotations

import json

import pytest

from helix.errors import HelixInputError
from helix.models import load_hf_config


def test_llama70b_from_artifact(artifact_dir):
    m = load_hf_config(
        artifact_dir / "artifact_evaluation/single_cluster/models/llama70b/config.json", "llama70b"
    )
    assert (m.num_layers, m.hidden_size, m.num_heads, m.num_kv_heads) == (80, 8192, 64, 8)
    assert m.activation_bytes_per_token == 16384  # docs/design/placement.md s1
    assert m.kv_bytes_per_token_layer == 4096  # 2 * 8 KV heads * 128 * 2 B (GQA)
    # 2*h^2 (q,o) + 2*h*1024 (k,v) + 3*h*28672 (mlp) + 2*h (norms)
    assert m.params_per_layer == 2 * 8192**2 + 2 * 8192 * 1024 + 3 * 8192 * 28672 + 2 * 8192


def test_llama30b_from_artifact(artifact_dir):
    m = load_hf_config(
        artifact_dir / "artifact_evaluation/single_cluster/models/llama30b/config.json",
        "llama30b",
        param_bytes_per_layer_override=1e9,
    )
    assert (m.num_layers, m.hidden_size, m.num_kv_heads) == (60, 6656, 52)
    assert m.activation_bytes_per_token == 13312
    assert m.kv_bytes_per_token_layer == 26624
    assert m.param_bytes_per_layer == 1e9


@pytest.mark.parametrize(
    "cfg, expected",
    [
        ({"model_type": "bert"}, "model_type: not a decoder-only model"),
        (
            {
                "model_type": "llama",
                "hidden_size": 64,
                "num_attention_heads": 4,
                "intermediate_size": 128,
                "vocab_size": 100,
            },
            "num_hidden_layers: missing",
        ),
        (
            {
                "model_type": "llama",
                "hidden_size": 64,
                "num_attention_heads": 4,
                "intermediate_size": 128,
                "vocab_size": 100,
                "num_hidden_layers": -2,
            },
            "num_hidden_layers: must be a positive integer",
        ),
        (
            {
                "model_type": "llama",
                "hidden_size": 64,
                "num_attention_heads": 4,
                "num_key_value_heads": 3,
                "intermediate_size": 128,
                "vocab_size": 100,
                "num_hidden_layers": 2,
            },
            "num_key_value_heads",
        ),
    ],
)
def test_bad_model_config(tmp_path, cfg, expected):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    with pytest.raises(HelixInputError) as info:
        load_hf_config(p, "x")
    assert str(p) in str(info.value) and expected in str(info.value)


def test_model_no_machine_can_hold_a_layer_of(tmp_path):
    """A 16 GB T4 cannot hold one layer of a model whose layer alone needs ~40 GB: one-line error."""
    from helix.profiles.derived_limits import derived_limits
    from helix.profiles.gpu_specs import machine_spec

    p = tmp_path / "config.json"
    p.write_text(
        json.dumps(
            {
                "model_type": "llama",
                "hidden_size": 32768,
                "num_attention_heads": 256,
                "num_key_value_heads": 8,
                "intermediate_size": 196608,
                "vocab_size": 32000,
                "num_hidden_layers": 4,
            }
        )
    )
    huge = load_hf_config(p, "huge")
    assert huge.param_bytes_per_layer > 16e9
    with pytest.raises(HelixInputError) as info:
        derived_limits(huge, machine_spec("T4"), source="config/config.yaml")
    msg = str(info.value)
    assert "gpus.T4.vram_bytes" in msg and "not even one layer of huge fits" in msg and "\n" not in msg
