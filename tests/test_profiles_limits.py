"""Engine limits (docs/design/simulator.md s2.5).

Internal consistency and the values other spec sections quote.
"""

from __future__ import annotations

import pytest
import yaml

from helix.errors import HelixInputError
from helix.profiles import limits as L
from helix.profiles.limits import engine_limits, gpu_types, known_models, typical_seeds

ALL_TYPES = ["A100", "V100", "L4", "L4x2", "T4", "T4x2", "T4x4"]
# docs/design/placement.md s1: K per (type, model), and the VRAM rule 2*K*layer_bytes <= VRAM it asserts.
K_TABLE = {
    "A100": (12, 18),
    "V100": (4, 7),
    "L4": (7, 11),
    "L4x2": (14, 22),
    "T4": (4, 7),
    "T4x2": (9, 15),
    "T4x4": (18, 30),
}
VRAM = {"A100": 40e9, "V100": 16e9, "L4": 24e9, "L4x2": 48e9, "T4": 16e9, "T4x2": 32e9, "T4x4": 64e9}
LAYER_BYTES = {"llama70b": 1.53e9, "llama30b": 1e9}


def test_both_models_cover_every_type():
    assert known_models() == ["llama30b", "llama70b"]
    for model in known_models():
        assert gpu_types(model) == ALL_TYPES


@pytest.mark.parametrize("model", ["llama70b", "llama30b"])
@pytest.mark.parametrize("gpu", ALL_TYPES)
def test_internal_consistency(model, gpu):
    lim = engine_limits(model, gpu)
    assert lim.K == K_TABLE[gpu][0 if model == "llama70b" else 1]
    assert len(lim.decode_max_tokens) == len(lim.blocks) == lim.K
    assert all(b > a for a, b in zip(lim.blocks[1:], lim.blocks))  # B strictly decreasing in k
    assert all(b >= a for a, b in zip(lim.decode_max_tokens[1:], lim.decode_max_tokens))
    assert 2 * lim.K * LAYER_BYTES[model] <= VRAM[gpu]
    # KV memory B(k)*k shrinks as weights take more room
    kv = [lim.kv_capacity(k) for k in range(1, lim.K + 1)]
    assert all(b < a for a, b in zip(kv, kv[1:]))
    assert lim.prompt_max_tokens == lim.R * 2048
    assert lim.decode_max_context(1) == 1000 * lim.decode_max_tokens[0]


@pytest.mark.parametrize(
    "model,gpu,k,slots",
    [
        ("llama70b", "L4", 4, 3_004_416),  # docs/design/simulator.md s2.3 example
        ("llama30b", "A100", 15, 725_040),  # 30B Separate files equal the ILP files
        ("llama30b", "L4", 7, 417_088),
        ("llama30b", "L4", 8, 376_704),
        ("llama30b", "T4", 5, 268_240),
    ],
)
def test_kv_capacity_matches_simulator_files(model, gpu, k, slots):
    assert engine_limits(model, gpu).kv_capacity(k) == slots


def test_spot_values():
    a = engine_limits("llama70b", "A100")
    assert (a.R, a.decode_max(9), a.decode_max(10), a.decode_max(12)) == (3, 480, 450, 300)
    t = engine_limits("llama30b", "T4x4")
    assert t.decode_max(10) == 180 and t.decode_max(11) == 160 and t.block_count(30) == 1641
    assert engine_limits("llama30b", "L4x2").R == 2


def test_typical_seeds():
    s = typical_seeds("llama70b")
    assert s.num_layers == 80 and s.layers_a["T4x4"] == 12 and s.performance_seed["T4"] == 12.5
    s30 = typical_seeds("llama30b")
    # table B is K (docs/design/simulator.md s2.6)
    for gpu in ALL_TYPES:
        assert s30.layers_b[gpu] == engine_limits("llama30b", gpu).K
        assert s.layers_b[gpu] == engine_limits("llama70b", gpu).K
        assert s.layers_a[gpu] <= s.layers_b[gpu]


def test_unknown_pairs_and_k_out_of_range():
    with pytest.raises(HelixInputError, match="no engine limits for GPU type 'Z9000' with model 'llama70b'"):
        engine_limits("llama70b", "Z9000")  # (other pairs are derived: helix.profiles.entry)
    with pytest.raises(HelixInputError, match="no engine limits for this model"):
        engine_limits("gpt-x", "A100")
    lim = engine_limits("llama70b", "T4")
    for k in (0, 5):
        with pytest.raises(HelixInputError, match="1..K=4"):
            lim.kv_capacity(k)


def test_validation_catches_broken_tables(tmp_path):
    good = yaml.safe_load(L._data_path("llama70b").read_text())
    bad = {"gpus": {"T4": dict(good["gpus"]["T4"], blocks=[155320, 63484, 63484, 17566])}}
    with pytest.raises(HelixInputError, match="gpus.T4.blocks: must be positive and strictly decreasing"):
        L._validate(tmp_path / "x.yaml", bad)
    bad = {"gpus": {"T4": dict(good["gpus"]["T4"], decode_max_tokens=[300, 300, 300])}}
    with pytest.raises(HelixInputError, match="gpus.T4.decode_max_tokens: needs K=4 entries"):
        L._validate(tmp_path / "x.yaml", bad)
