"""Analytic profile model: hand-checked FLOPs and bytes, the fit, leave-one-out, limits, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helix.errors import HelixInputError
from helix.models import load_hf_config
from helix.profiles import cost as A
from helix.profiles import derived_limits as D
from helix.profiles import fit as F
from helix.profiles.entry import ModelProfiles, paper_profiles
from helix.profiles.gpu_specs import gpu_spec, machine_from_entry, machine_spec
from helix.profiles.limits import engine_limits
from helix.profiles.measured import check_times
from helix.profiles.predict import write_predicted
from helix.profiles.store import ARTIFACT_GPU_TYPES, ProfileStore

MODEL = F.PAPER_MODELS

CFG70 = "artifact_evaluation/single_cluster/models/llama70b/config.json"
CFG30 = "artifact_evaluation/single_cluster/models/llama30b/config.json"


@pytest.fixture(scope="module")
def spec70(artifact_dir):
    return load_hf_config(artifact_dir / CFG70, "llama70b")


def test_llama70b_layer_matches_hand_calculation(spec70):
    # LLaMA-2 70B: h = 8192, 64 query heads, 8 KV heads of 128 (GQA: kv dim 1024), I = 28672.
    q_o = 2 * 8192 * 8192  # 134_217_728
    k_v = 2 * 8192 * 1024  # 16_777_216 (GQA: 8 x 128, not 8192)
    mlp = 3 * 8192 * 28672  # 704_643_072
    assert A.gemm_params(spec70) == q_o + k_v + mlp == 855_638_016
    assert A.weight_bytes(spec70) == (855_638_016 + 2 * 8192) * 2 == 1_711_308_800
    assert A.kv_bytes_per_token(spec70) == 2 * 8 * 128 * 2 == 4096

    # One decode token with the typical context of 990 tokens.
    c = A.layer_cost(spec70, "decode", 1)
    assert c.gemm.flops == 2 * 855_638_016
    assert c.attention.flops == 4 * 990 * 8192 == 32_440_320  # QK^T + PV over 64 heads x 128
    kv_read, kv_write, q_out = 990 * 4096, 4096, 2 * 8192 * 2
    assert c.attention.bytes == kv_read + kv_write + q_out == 4_091_904
    act = (6 * 8192 + 2 * 1024 + 3 * 28672) * 2  # in + out of every projection, fp16
    assert c.gemm.bytes == 1_711_308_800 + act
    assert c.allreduce_bytes == 8192 * 2

    # 300 decode tokens: weights once, KV per sequence.
    c300 = A.layer_cost(spec70, "decode", 300)
    assert c300.gemm.bytes == 1_711_308_800 + 300 * act
    assert c300.attention.bytes == 300 * (kv_read + kv_write + q_out)

    # A 1500-token prompt batch = two causal sequences of 750.
    p = A.layer_cost(spec70, "prompt", 1500)
    assert p.gemm.flops == 2 * 1500 * 855_638_016
    assert p.attention.flops == 4 * 8192 * 2 * (750 * 751 / 2)
    assert p.attention.bytes == 1500 * (4096 + 2 * 8192 * 2)


def test_llama30b_kv_is_full_attention(artifact_dir):
    spec = load_hf_config(artifact_dir / CFG30, "llama30b")
    assert A.kv_bytes_per_token(spec) == 2 * 6656 * 2 == 26624  # docs/design/simulator.md s2.4
    assert MODEL["llama30b"].hidden_size == spec.hidden_size
    assert A.gemm_params(MODEL["llama70b"]) == 855_638_016


def test_spec_table_and_tensor_parallel_rule():
    t4 = gpu_spec("T4")
    box = machine_spec("T4x4")
    assert box.num_gpus == 4 and box.peak_flops == 4 * t4.peak_flops and box.mem_bw == 4 * t4.mem_bw
    assert box.mem_bytes == 64e9 and box.interconnect_bw == t4.interconnect_bw
    assert machine_spec("H100x8").num_gpus == 8  # generic <base>x<n>
    assert gpu_spec("A100-40G") == gpu_spec("A100")
    with pytest.raises(HelixInputError) as err:
        machine_spec("B300")
    assert "\n" not in str(err.value) and "B300" in str(err.value) and "spec table" in str(err.value)


@pytest.fixture(scope="module")
def artifact_store(artifact_dir):
    return ProfileStore.from_artifact(artifact_dir)


def test_default_params_are_a_fresh_fit(artifact_dir):
    fresh = F.fit_artifact(artifact_dir).params
    for name in A.FitParams.NAMES:
        assert getattr(A.DEFAULT_PARAMS, name) == pytest.approx(getattr(fresh, name), rel=0.05), name


def test_time_model_shape():
    spec, p = MODEL["llama70b"], A.DEFAULT_PARAMS
    for gpu in ("A100", "L4", "T4x4", "H100", "L40S"):
        for phase, grid in (("prompt", A.PROMPT_GRID), ("decode", A.DECODE_GRID)):
            t = A.predict_times(spec, gpu, phase, grid, p)
            assert t[0] == 0 and np.all(np.diff(t) > 0), (gpu, phase)
    # H100 beats A100 in both phases; H200 (more bandwidth) beats H100 on memory-bound decode.
    for phase, x in (("prompt", 4000), ("decode", 64)):
        assert A.predict_time(spec, "H100", phase, x, p) < A.predict_time(spec, "A100", phase, x, p)
    h200 = A.predict_time(spec, "H200", "decode", 8, p) - p.t0
    h100 = A.predict_time(spec, "H100", "decode", 8, p) - p.t0
    assert h200 / h100 == pytest.approx(3350 / 4800, rel=0.05)  # weight reads at the HBM ratio


def test_leave_one_out_table(artifact_dir, artifact_store):
    table, points = F.leave_one_out(artifact_dir)
    assert list(table.columns) == list(F.VALIDATION_COLUMNS)
    keys = set(zip(table.gpu, table.model, table.phase))
    assert keys == {
        (g, m, ph)
        for g in ARTIFACT_GPU_TYPES
        for m in ("llama70b", "llama30b")
        for ph in ("prompt", "decode")
    }
    assert len(table) == 28
    for row in table.itertuples():
        grid = getattr(artifact_store.get(row.model, row.gpu), row.phase)
        assert row.n_points == sum(1 for s in grid.seconds[1:] if s > 0)
        assert 0 <= row.median_rel_err <= row.p90_rel_err
    # The target: median relative error at most 15 % over all rows; no row far off.
    assert table.median_rel_err.median() <= 0.15
    assert table.median_rel_err.max() <= 0.25
    assert len(points) == table.n_points.sum()


def test_prediction_is_out_of_sample(artifact_dir):
    """Leaving a GPU type out changes the fit: the left-out type's data really is unseen."""
    full = F.fit_artifact(artifact_dir).params
    loo = F.fit_artifact(artifact_dir, [g for g in ARTIFACT_GPU_TYPES if g != "A100"]).params
    assert loo.eta_c != pytest.approx(full.eta_c, rel=1e-3)


def test_analytic_limits_approximate_the_paper_tables():
    for model in ("llama70b", "llama30b"):
        for gpu in ARTIFACT_GPU_TYPES:
            paper = engine_limits(model, gpu)  # the paper's measured table
            rule = D.derived_limits(MODEL[model], machine_spec(gpu))
            assert abs(rule.K - paper.K) <= 2, (model, gpu, rule.K, paper.K)
            assert rule.blocks[0] == pytest.approx(paper.blocks[0], rel=0.15), (model, gpu)
            assert 1 <= rule.R <= 3
            k = min(rule.K, paper.K)
            # the memory-limited tail of Dm(k) follows the KV slots
            if paper.decode_max(k) < 300:
                assert rule.decode_max_tokens[k - 1] == pytest.approx(paper.decode_max(k), rel=0.35)
    assert (
        D.derived_limits(MODEL["llama70b"], machine_spec("A100")).K
        == 12
        == engine_limits("llama70b", "A100").K
    )


def test_limits_for_whatif_gpus_are_derived(artifact_store):
    mp = paper_profiles("llama70b", artifact_store)
    h100, a100 = mp.limits("H100"), mp.limits("A100")
    assert a100 == engine_limits("llama70b", "A100")  # measured wins where it exists
    assert h100.K > a100.K and h100.kv_capacity(8) > a100.kv_capacity(8)
    assert list(h100.blocks) == sorted(h100.blocks, reverse=True)
    seeds = mp.seeds(["H100", "A100"])
    assert seeds.layers_b["H100"] == h100.K and seeds.performance_seed["A100"] == 80
    assert seeds.performance_seed["H100"] > seeds.performance_seed["A100"]
    with pytest.raises(HelixInputError) as err:
        mp.limits("NoSuchGPU")
    assert "NoSuchGPU" in str(err.value) and "\n" not in str(err.value)
    prov = mp.provenance(["A100", "H100"])
    assert prov["A100"]["limits"]["source"] == "measured" and prov["H100"]["limits"]["source"] == "derived"


def test_config_datasheet_defaults_to_the_table_and_overrides_it(artifact_store):
    # the config's entry of a known type gives the table's machine; fields given there win
    assert machine_from_entry("L4x2", {"num_gpus": 2, "vram_bytes": 48e9}) == machine_spec("L4x2")
    fast = machine_from_entry("A100", {"num_gpus": 1, "vram_bytes": 40e9, "mem_bandwidth": 2039e9})
    assert (
        fast.mem_bw == 2039e9 and fast.peak_flops == gpu_spec("A100").peak_flops and "config" in fast.source
    )
    # an unknown type needs both required fields; with them, limits and seeds are derived
    assert machine_from_entry("B9", {"num_gpus": 1, "vram_bytes": 96e9, "peak_flops": 1e15}) is None
    entry = {"num_gpus": 1, "vram_bytes": 96e9, "peak_flops": 1e15, "mem_bandwidth": 4e12}
    mp = ModelProfiles(MODEL["llama70b"], {"B9": entry}, artifact_store)
    assert mp.limits("B9").K > mp.limits("A100").K and not mp.machine("B9").low_power
    assert mp.seeds(["B9"]).performance_seed["B9"] > 80


def test_predicted_profile_files(tmp_path, artifact_dir):
    fit = F.FitResult(A.DEFAULT_PARAMS, ["x"], 1, 0.0)
    out = write_predicted(
        tmp_path / "llama70b" / "h100", MODEL["llama70b"], "llama70b", machine_spec("H100"), fit
    )
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source"] == "predicted" and meta["fit"]["params"]["eta_c"] == A.DEFAULT_PARAMS.eta_c
    assert meta["decode_context"] == 990
    prof = ProfileStore(tmp_path).get("llama70b", "H100")
    assert prof.decode_time(100) == pytest.approx(
        A.predict_time(MODEL["llama70b"], "H100", "decode", 100, A.DEFAULT_PARAMS)
    )
    assert prof.prompt.max_tokens >= 3 * 2048 and prof.decode.max_tokens >= 480
    assert F.FitResult.from_dict(fit.as_dict()).params == fit.params


@pytest.mark.parametrize(
    "seconds, what",
    [
        ((0.0, 0.01, -0.02, 0.03), "non-negative"),
        ((0.0, 0.01, 0.02, 0.004), "not monotone"),
        ((0.0, 0.01, float("nan"), 0.03), "non-negative"),
    ],
)
def test_bad_times_are_one_line_errors(seconds, what):
    with pytest.raises(HelixInputError) as err:
        check_times("p.csv", (0, 250, 500, 750), seconds)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("p.csv: row ") and what in msg


def test_noisy_but_sane_measurements_pass():
    check_times("p.csv", (0, 80, 85, 90), (0.0, 0.0070, 0.0067, 0.0045))  # artifact v100 70b decode


def test_not_a_decoder_config(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "t5", "hidden_size": 512}))
    with pytest.raises(HelixInputError) as err:
        load_hf_config(bad, "t5")
    assert "model_type" in str(err.value) and "\n" not in str(err.value)
