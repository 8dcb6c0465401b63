"""Profiler: a real CPU profile of the tiny model, through the CLI and through the Snakemake rule."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")

from helix.cli import main  # noqa: E402
from helix.errors import HelixInputError  # noqa: E402
from helix.profiles.profiler import ProfileGrid, ProfileRun, profile_layer, write_run  # noqa: E402
from helix.profiles.store import ProfileStore  # noqa: E402

from snakemake_cli import run_snakemake  # noqa: E402

TINY = "config/test/tiny-llama.json"
SMALL = ProfileGrid(prompt_tokens=(8, 64), decode_batches=(1, 4), contexts=(16, 64), warmup=1, repeats=3)


def test_profile_layer_cpu(repo, tmp_path):
    run = profile_layer(repo / TINY, "tiny-llama", grid=SMALL)
    assert set(run.prompt) == {8, 64}
    assert set(run.decode) == {(b, c) for b in (1, 4) for c in (16, 64)}
    assert all(t > 0 for t in [*run.prompt.values(), *run.decode.values()])
    assert run.decode_context() == 64  # nearest to the typical 990
    out = write_run(run, tmp_path / "tiny-llama" / "cpu", "tiny-llama", "cpu")
    prof = ProfileStore(tmp_path).get("tiny-llama", "cpu")
    assert prof.prompt.tokens == (0, 8, 64) and prof.decode.tokens == (0, 1, 4)
    assert prof.decode_time(4) == run.decode[(4, 64)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["source"] == "measured" and meta["device"] == "cpu" and meta["dtype"] == "float32"
    for key in ("torch_version", "date", "grid", "spread", "driver", "gpu_name"):
        assert key in meta
    assert meta["grid"]["repeats"] == 3 and meta["grid"]["contexts"] == [16, 64]
    rows = (out / "decode_context.csv").read_text().splitlines()
    assert rows[0] == "batch,context,seconds" and len(rows) == 1 + 4


def test_cli_profile(repo, tmp_path, capsys):
    out = tmp_path / "p"
    argv = [
        "profile",
        "--config-json",
        str(repo / TINY),
        "--model",
        "tiny-llama",
        "--gpu",
        "cpu",
        "--out",
        str(out),
        "--prompt-tokens",
        "8,32",
        "--decode-batches",
        "1,2",
        "--contexts",
        "16",
        "--repeats",
        "2",
    ]
    assert main(argv) == 0
    assert (out / "prompt.csv").read_text().startswith("tokens,seconds\n0,0")
    assert "2 prompt and 2 decode points" in capsys.readouterr().out


def _cli_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_cuda_without_cuda_is_one_line(repo, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "p"
    err = _cli_error(
        [
            "profile",
            "--config-json",
            str(repo / TINY),
            "--model",
            "t",
            "--gpu",
            "H100",
            "--out",
            str(out),
            "--device",
            "cuda",
        ],
        capsys,
    )
    assert "CUDA requested" in err and "device" in err
    assert not out.exists()


def test_not_a_decoder_config_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "bert", "hidden_size": 64, "num_attention_heads": 4}))
    out = tmp_path / "p"
    err = _cli_error(
        ["profile", "--config-json", str(cfg), "--model", "b", "--gpu", "cpu", "--out", str(out)], capsys
    )
    assert str(cfg) in err and "model_type" in err and "'bert'" in err
    assert not out.exists()


def test_bad_grid_is_one_line(repo, tmp_path, capsys):
    err = _cli_error(
        [
            "profile",
            "--config-json",
            str(repo / TINY),
            "--model",
            "t",
            "--gpu",
            "cpu",
            "--out",
            str(tmp_path / "p"),
            "--decode-batches",
            "4,2",
        ],
        capsys,
    )
    assert "decode_batches" in err


def test_negative_measurement_leaves_no_output(tmp_path):
    run = ProfileRun({8: -0.001, 64: 0.002}, {(1, 16): 0.001, (4, 16): 0.002}, {"x": 0.1}, {"device": "cpu"})
    with pytest.raises(HelixInputError) as err:
        write_run(run, tmp_path / "out", "m", "cpu")
    assert "non-negative" in str(err.value) and "prompt.csv" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "decode, what",
    [
        ("0,0\n1,0.002\n4,0.0005\n", "not monotone"),
        ("0,0\n1,0.002\n4,-0.003\n", "non-negative"),
    ],
)
def test_bad_committed_measurement_is_rejected(repo, tmp_path, decode, what):
    from helix.profiles.measured import read_measured

    # Synthetic, well-formed measurement (a real tiny CPU profile is overhead-bound and noisy).
    run = ProfileRun(
        {8: 0.001, 64: 0.003}, {(1, 990): 0.001, (4, 990): 0.0012}, {"x": 0.1}, {"device": "cpu"}
    )
    d = write_run(run, tmp_path / "tiny-llama" / "cpu", "tiny-llama", "cpu")
    assert read_measured(d, "tiny-llama", "cpu").meta["source"] == "measured"
    (d / "decode.csv").write_text("tokens,seconds\n" + decode)
    with pytest.raises(HelixInputError) as err:
        read_measured(d, "tiny-llama", "cpu")
    msg = str(err.value)
    assert "\n" not in msg and "decode.csv" in msg and ("line" in msg or "row" in msg) and what in msg


def _snakemake(repo: Path, workdir: Path, artifact: Path, config: Path, *targets: str):
    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact))
    return run_snakemake(workdir, *targets, config=config, cores=2, env=env, timeout=600)


@pytest.mark.slow
def test_rules_cpu_profile_validation_and_predicted(repo, artifact_dir, tmp_path):
    """Real Snakemake: the tiny model's CPU profile, the LOO table and a predicted H100 profile."""
    cfg = yaml.safe_load((repo / "config/test/config.yaml").read_text())
    cfg["models"]["tiny-llama"] = {"config_json": str(repo / TINY)}
    cfg["gpus"]["H100"] = {"num_gpus": 1, "vram_bytes": 80e9}
    cfg["clusters"]["tiny4-h100"] = {
        "generator": "replace_gpu",
        "parent": "tiny4",
        "replace": {"A100": "H100"},
    }
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    work = tmp_path / "work"
    targets = [
        "results/profiles/measured/tiny-llama/cpu/prompt.csv",
        "results/profiles/validation.csv",
        "resources/profiles/llama70b/h100/decode.csv",
        "results/clusters/tiny4-h100.yaml",
    ]
    run = _snakemake(repo, work, artifact_dir, config, *targets)
    assert run.returncode == 0, run.stderr[-3000:]

    prof = ProfileStore(work / "results/profiles/measured").get("tiny-llama", "cpu")
    assert prof.meta["source"] == "measured" and prof.prompt_time(64) > 0 and prof.decode_time(2) > 0

    import pandas as pd

    table = pd.read_csv(work / "results/profiles/validation.csv")
    assert list(table.columns) == ["gpu", "model", "phase", "median_rel_err", "p90_rel_err", "n_points"]
    assert len(table) == 28 and table.median_rel_err.median() <= 0.15
    assert (work / "results/profiles/validation.png").stat().st_size > 0

    h100 = ProfileStore(work / "resources/profiles").get("llama70b", "H100")
    assert h100.meta["source"] == "predicted" and "params" in h100.meta["fit"]
    assert "H100" in (work / "results/clusters/tiny4-h100.yaml").read_text()

    again = _snakemake(repo, work, artifact_dir, config, "-n", *targets)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_profile_plan_prefers_committed_measurement(repo, tmp_path):
    from types import SimpleNamespace

    from helix.config.schema import load_config
    from helix.profiles.workflow import ProfilePlan

    cfg = load_config(repo / "config/config.yaml")
    plan = ProfilePlan(cfg, tmp_path, ["resources/helix-artifact/COMMIT"])
    assert {"H100", "H200", "L40S"} <= set(plan.whatif_gpus) and "A100" not in plan.whatif_gpus
    assert {"single24-h100", "single24-l40s"} <= set(
        plan.whatif_clusters
    ) and "single24" not in plan.whatif_clusters
    assert "results/sims/single24-h100/llama70b/helix/helix/online/metrics.json" in plan.whatif_sim_targets()
    w = SimpleNamespace(model="llama70b", gpu="h100")
    assert plan.gpu_name(w) == "H100"
    assert set(plan.profile_inputs(w)) == {"fit", "model"}
    d = tmp_path / "profiles/measured/h100/llama70b"
    d.mkdir(parents=True)
    (d / "meta.json").write_text('{"source": "measured"}')
    assert plan.profile_inputs(w)["measured"][0] == str(d / "meta.json")
    # rules ask only for the profiles of the cluster they work on
    c = SimpleNamespace(model="llama70b", cluster="single24-h100")
    assert sorted({f.split("/")[3] for f in plan.cluster_profiles(c)}) == ["h100", "l4", "t4"]
    assert sorted(plan.gpu_entries(c)) == ["H100", "L4", "T4"]
