"""Bad what-if input is one line naming the file, the field and the value, before any job runs;
a valid results path no experiment lists plans its jobs."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import yaml

from helix.config.schema import load_config
from helix.errors import HelixInputError
from helix.profiles.workflow import ProfilePlan, cluster_gpu_counts
from helix.sim.experiments import default_entry

from snakemake_cli import run_snakemake

MISTRAL = {
    "model_type": "mistral",
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 32000,
    "torch_dtype": "bfloat16",
}


def _config(repo, tmp_path, edit) -> tuple:
    cfg = yaml.safe_load((repo / "config/test/config.yaml").read_text())
    (tmp_path / "mistral.json").write_text(json.dumps(MISTRAL))
    cfg["models"]["mistral7b"] = {"config_json": str(tmp_path / "mistral.json")}
    cfg["gpus"]["B200"] = {"num_gpus": 1, "vram_bytes": 180e9, "peak_flops": 2.25e15, "mem_bandwidth": 8e12}
    cfg["clusters"]["mix12"] = {
        "generator": "fake",
        "seed": 0,
        "types": {"B200": 2, "A100": 4, "T4": 6},
        "link": {"bandwidth": 1e9, "latency": 0.001},
    }
    edit(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, load_config(path)


def _one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_model_config_lacking_a_cost_model_field(repo, tmp_path):
    def edit(cfg):
        bad = dict(MISTRAL)
        del bad["intermediate_size"]
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        cfg["models"]["bad7b"] = {"config_json": str(tmp_path / "bad.json")}

    path, cfg = _config(repo, tmp_path, edit)
    with pytest.raises(HelixInputError) as err:
        ProfilePlan(cfg, repo, [], str(path)).check()
    msg = _one_line(err)
    assert "bad.json" in msg and "intermediate_size" in msg and "missing" in msg


def test_gpu_without_datasheet_or_measured_profile(repo, tmp_path):
    def edit(cfg):
        cfg["gpus"]["X9"] = {"num_gpus": 1, "vram_bytes": 96e9}
        cfg["clusters"]["x9mix"] = {
            "generator": "fake",
            "seed": 0,
            "types": {"X9": 2, "T4": 2},
            "link": {"bandwidth": 1e9, "latency": 0.001},
        }

    path, cfg = _config(repo, tmp_path, edit)
    with pytest.raises(HelixInputError) as err:
        ProfilePlan(cfg, repo, [], str(path)).check()
    msg = _one_line(err)
    assert str(path) in msg and "gpus.X9.peak_flops" in msg and "x9mix" in msg
    # the same type in no cluster is no error: an unused GPU type breaks nothing
    cfg2 = yaml.safe_load(path.read_text())
    del cfg2["clusters"]["x9mix"]
    path.write_text(yaml.safe_dump(cfg2))
    plan = ProfilePlan(load_config(path), repo, [], str(path))
    plan.check()
    assert "X9" not in plan.whatif_gpus and "B200" in plan.whatif_gpus  # rule all asks for no X9 profile


def _add_t4x3(cfg):
    """A cluster of three T4s: it holds a 7B model, not LLaMA-2 70B."""
    cfg["clusters"]["t4x3"] = {
        "generator": "fake",
        "seed": 0,
        "types": {"T4": 3},
        "link": {"bandwidth": 1e9, "latency": 0.001},
    }


def test_cluster_that_cannot_hold_the_model(repo, tmp_path, artifact_dir):
    path, cfg = _config(repo, tmp_path, _add_t4x3)
    plan = ProfilePlan(cfg, repo, [], str(path))
    assert cluster_gpu_counts("t4x3", {k: v.model_dump() for k, v in cfg.clusters.items()}) == {"T4": 3}
    with pytest.raises(HelixInputError) as err:
        plan.check_holds("t4x3", "llama70b")  # 3 T4s hold 3 x 4 = 12 of 80 layers (the paper's K)
    msg = _one_line(err)
    assert "clusters.t4x3" in msg and "12 of 80 layers" in msg and str(path) in msg
    plan.check_holds("t4x3", "mistral7b")  # 3 x 16 GB T4s do hold a 7B model
    plan.check_holds("mix12", "llama70b")


def test_path_with_unknown_method_or_online_rate(repo, tmp_path):
    path, cfg = _config(repo, tmp_path, lambda cfg: None)
    with pytest.raises(HelixInputError) as err:
        default_entry(cfg, "mix12", "mistral7b", "magic", "helix", "offline", str(path))
    msg = _one_line(err)
    assert "results/sims/mix12/mistral7b/magic/helix/offline: method" in msg and "'magic'" in msg
    with pytest.raises(HelixInputError) as err:
        default_entry(cfg, "mix12", "mistral7b", "helix", "helix", "online", str(path))
    assert "simulation_defaults.online.rate_tps" in _one_line(err)
    e = default_entry(cfg, "mix12", "mistral7b", "helix", "helix", "offline", str(path))
    assert e["workload"]["duration_s"] == 30 and e["parts"] is None  # the test config's simulation_defaults


def _snakemake(repo, workdir, config, *args):
    return run_snakemake(workdir, *args, config=config)


@pytest.mark.slow
def test_snakemake_plans_an_unconfigured_path_and_stops_bad_ones(repo, tmp_path, artifact_dir):
    path, _ = _config(repo, tmp_path, _add_t4x3)
    work = tmp_path / "work"
    work.mkdir()
    dry = _snakemake(repo, work, path, "-n", "results/sims/mix12/mistral7b/helix/helix/offline/metrics.json")
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out[-3000:]
    for rule in ("cluster", "fit_analytic", "predict_profile", "placement_helix", "simulate"):
        assert rule in out, rule
    assert "import_profiles" not in out  # the artifact has no mistral7b profile: all three are predicted
    bad = _snakemake(repo, work, path, "-n", "results/sims/mix12/mistral7b/magic/helix/offline/metrics.json")
    assert bad.returncode != 0 and "unknown placement method" in bad.stdout + bad.stderr
    # a placement path with an unknown method: the same one line, naming the path and the value
    bad = _snakemake(repo, work, path, "-n", "results/placements/mix12/mistral7b/magic/layout.yaml")
    out = bad.stdout + bad.stderr
    assert (
        bad.returncode != 0
        and "results/placements/mix12/mistral7b/magic: method: unknown placement method" in out
        and "'magic'" in out
    )
    # an unknown cluster or model in a results path: one line naming the path, the field, the value
    # and the config's names (every rule taking these wildcards accepts any name and checks it)
    sim = "results/sims/nosuch/mistral7b/helix/helix/offline"
    model, both = "results/placements/mix12/gpt9/swarm", "results/placements/nosuch/mistral7b/magic"
    proto = "results/proto/mix12/gpt9/manual/helix/offline"
    for target, where, field, value in (
        (f"{sim}/metrics.json", sim, "cluster", "nosuch"),
        (f"{model}/layout.yaml", model, "model", "gpt9"),
        (f"{both}/layout.yaml", both, "cluster", "nosuch"),  # the cluster before the method
        ("results/clusters/nosuch.yaml", "results/clusters/nosuch.yaml", "cluster", "nosuch"),
        (f"{proto}/metrics.json", proto, "model", "gpt9"),
    ):
        bad = _snakemake(repo, work, path, "-n", target)
        out = bad.stdout + bad.stderr
        line = next((x.strip() for x in out.splitlines() if "HelixInputError" in x), "")
        assert bad.returncode != 0 and "No rule to produce" not in out, out[-2000:]
        head = f"HelixInputError: {path}: {where}: {field}: unknown {field} (known: "
        assert line.startswith(head) and line.endswith(f"(got '{value}')"), out[-2000:]
        assert ("mix12, " if field == "cluster" else "mistral7b") in line
    small = _snakemake(repo, work, path, "-n", "results/sims/t4x3/llama70b/helix/helix/offline/metrics.json")
    assert small.returncode != 0 and "clusters.t4x3: cannot hold llama70b" in small.stdout + small.stderr
    assert not (work / "results").exists()


def test_validate_config_runs_the_startup_checks(repo, tmp_path):
    from helix.cli import main

    def edit(cfg):
        cfg["gpus"]["X9"] = {"num_gpus": 1, "vram_bytes": 96e9}
        cfg["clusters"]["mix12"]["types"] = {"X9": 2, "T4": 2}

    path, _ = _config(repo, tmp_path, edit)
    assert main(["validate-config", str(path)]) == 2


def test_rules_get_only_their_clusters_gpu_entries(repo, tmp_path):
    path, cfg = _config(repo, tmp_path, lambda cfg: None)
    plan = ProfilePlan(cfg, repo, [], str(path))
    w = SimpleNamespace(cluster="mix12", model="mistral7b")
    assert sorted(plan.gpu_entries(w)) == ["A100", "B200", "T4"]
    assert plan.gpu_entries(w)["B200"]["peak_flops"] == 2.25e15
    assert "peak_flops" not in plan.gpu_entries(w)["A100"]  # table defaults are not copied into params
    assert sorted({f.split("/")[3] for f in plan.cluster_profiles(w)}) == ["a100", "b200", "t4"]


def test_cli_missing_profiles_say_what_to_run(repo, tmp_path, capsys):
    from helix.cli import main

    path, _ = _config(repo, tmp_path, lambda cfg: None)
    os.chdir(tmp_path)  # no resources/profiles here
    try:
        code = main(
            [
                "place",
                "--config",
                str(path),
                "--cluster",
                "mix12",
                "--model",
                "mistral7b",
                "--method",
                "swarm",
            ]
        )
    finally:
        os.chdir(repo)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert (
        "resources/profiles" in err
        and "snakemake" in err
        and "resources/profiles/mistral7b/b200/meta.json" in err
    )
    assert not (tmp_path / "results/placements").exists()
