"""Bad input is one line, never a traceback, never a partial output (issue 15, cases 3 to 6).

Each test is one case of the issue, reproduced as a user meets it (CLI with exit code 2 and one
line on stderr, or the library's HelixInputError); tests/test_fuzz_inputs.py generates many more.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helix.cli import main
from helix.cluster import SINK, SOURCE, Cluster, Link, Machine
from helix.errors import HelixInputError

REPO = Path(__file__).resolve().parents[1]
AE = "artifact_evaluation"
MODEL_70B = f"{AE}/single_cluster/models/llama70b/config.json"
_PLACE = ["place", "--config", str(REPO / "config/config.yaml"), "--profiles", "artifact"]


def _one_line_exit_2(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_one_line_escapes_every_line_break():
    """A key or value holding any character str.splitlines() breaks on stays on one line (found by
    the fuzz test: a config key "\x1e")."""
    for brk in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        line = HelixInputError(f"a{brk}.yaml", f"k{brk}", f"m{brk}", f"v{brk}").one_line()
        assert len(line.splitlines()) == 1 and line.startswith("a"), repr(line)


# ---- case 3: silent bad clusters -------------------------------------------------------------
@pytest.mark.parametrize("count", [-1, 0])
def test_fake_generator_refuses_non_positive_gpu_counts(repo, count):
    from helix.config.schema import validate_config

    cfg = yaml.safe_load((repo / "config/test/config.yaml").read_text())
    cfg["clusters"]["bad"] = {"generator": "fake", "types": {"A100": 2, "L4": 1, "T4": count}}
    with pytest.raises(HelixInputError) as exc:
        validate_config(cfg, "x.yaml")
    msg = exc.value.one_line()
    assert (
        "\n" not in msg
        and "x.yaml" in msg
        and "clusters.bad" in msg
        and "types.T4" in msg
        and f"got {count}" in msg
    )


def _split_cluster() -> Cluster:
    """Twelve machines in two islands: one linked to the source, the other to the sink, no link between."""
    gpus = ["A100"] * 4 + ["L4"] * 4 + ["T4"] * 4
    machines = [Machine(f"n{i}", g) for i, g in enumerate(gpus)]
    left, right = [m.name for m in machines[:6]], [m.name for m in machines[6:]]
    links = [Link(SOURCE, n, 1e9, 1e-3) for n in left] + [Link(n, SINK, 1e9, 1e-3) for n in right]
    for group in (left, right):
        links += [Link(a, b, 1e9, 1e-3) for i, a in enumerate(group) for b in group[i + 1 :]]
    return Cluster("split12", machines, links)


@pytest.mark.parametrize("method", ["petals", "swarm", "separate", "sp_plus", "helix"])
def test_placement_refuses_a_cluster_without_a_route(artifact_dir, tmp_path, method):
    from helix.models import load_hf_config
    from helix.placement.api import make_problem, run_placement
    from helix.placement.settings import PlacementPreset
    from helix.profiles.store import ProfileStore

    cluster = _split_cluster()
    assert not cluster.has_route()
    model = load_hf_config(artifact_dir / MODEL_70B, "llama70b")
    preset = PlacementPreset(
        backend="heuristic",
        time_limit_s=1,
        separate_types=["A100", "L4", "T4"],
        sp_plus_mixed_types=["L4", "T4"],
    )
    problem = make_problem(
        cluster, model, "llama70b", preset, ProfileStore.from_artifact(artifact_dir), artifact_dir, "split12"
    )
    out = tmp_path / "out"
    with pytest.raises(HelixInputError, match="no route from the coordinator") as exc:
        run_placement(problem, method, out)
    assert "\n" not in exc.value.one_line() and "split12" in exc.value.one_line()
    assert not out.exists() or not any(out.iterdir())


def test_cli_place_refuses_a_cluster_without_a_route(artifact_dir, tmp_path, capsys):
    _split_cluster().save(tmp_path / "split12.yaml")
    err = _one_line_exit_2(
        capsys,
        [
            *_PLACE,
            "--cluster",
            str(tmp_path / "split12.yaml"),
            "--model",
            "llama70b",
            "--model-config",
            str(artifact_dir / MODEL_70B),
            "--method",
            "petals",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert "no route" in err
    assert not (tmp_path / "out" / "layout.yaml").exists()


# ---- case 4: validate-config checks what the workflow needs; --configfile overlays ---------------
def _test_config(repo) -> dict:
    cfg = yaml.safe_load((repo / "config/test/config.yaml").read_text())
    cfg["models"]["tiny-llama"]["config_json"] = str(repo / "config/test/tiny-llama.json")
    cfg["experiments"]["proto_test"]["prototypes"][0]["layout"] = str(repo / "config/test/proto-layout.yaml")
    return cfg


def test_validate_config_checks_files_and_routes(repo, artifact_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config/config.yaml here: the file is checked alone
    cfg = _test_config(repo)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(cfg))
    assert main(["validate-config", str(good)]) == 0
    assert f"{good}: ok" in capsys.readouterr().out

    missing = copy.deepcopy(cfg)
    missing["models"]["tiny-llama"]["config_json"] = "no/such/config.json"
    (tmp_path / "missing.yaml").write_text(yaml.safe_dump(missing))
    err = _one_line_exit_2(capsys, ["validate-config", str(tmp_path / "missing.yaml")])
    assert "models.tiny-llama.config_json: file not found" in err and "no/such/config.json" in err

    unroutable = copy.deepcopy(cfg)
    _split_cluster().save(tmp_path / "split12.yaml")
    unroutable["clusters"]["split12"] = {"generator": "file", "path": str(tmp_path / "split12.yaml")}
    (tmp_path / "unroutable.yaml").write_text(yaml.safe_dump(unroutable))
    err = _one_line_exit_2(capsys, ["validate-config", str(tmp_path / "unroutable.yaml")])
    assert "clusters.split12" in err and "no route" in err

    gone = copy.deepcopy(cfg)
    gone["clusters"]["lost"] = {"generator": "file", "path": str(tmp_path / "lost.yaml")}
    (tmp_path / "gone.yaml").write_text(yaml.safe_dump(gone))
    err = _one_line_exit_2(capsys, ["validate-config", str(tmp_path / "gone.yaml")])
    assert "clusters.lost.path: file not found" in err


def test_validate_config_checks_the_merge_snakemake_reads(repo, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(_test_config(repo)))
    # an overlay that only makes sense merged over the base: it names the base's cluster and model
    overlay = {
        "placement_presets": {"quick": {"backend": "heuristic", "time_limit_s": 5}},
        "placement": {"helix": "quick"},
        "clusters": {"tiny4": {"generator": "fake", "seed": 1, "types": {"A100": 2}}},
    }
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(overlay))
    assert main(["validate-config", "x.yaml"]) == 0
    assert "config/config.yaml + x.yaml: ok (4 clusters" in capsys.readouterr().out
    err = _one_line_exit_2(capsys, ["validate-config", "--alone", "x.yaml"])
    assert "models" in err


def test_merge_configs_is_snakemakes_update_config():
    """The merge validate-config checks is the one Snakemake applies (snakemake.utils.update_config)."""
    from snakemake.utils import update_config

    from helix.config.check import merge_configs

    cases = [
        ({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "e": {"f": 2}}),
        ({"a": 1}, {"a": {"b": 2}}),
        ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"d": None}}, "x": []}),
        (
            {"clusters": {"t": {"types": {"A": 1}}}},
            {"clusters": {"t": {"types": {"B": 2}}, "u": {"seed": 1}}},
        ),
    ]
    for base, overlay in cases:
        expected = copy.deepcopy(base)
        update_config(expected, copy.deepcopy(overlay))
        assert merge_configs(base, overlay) == expected


def test_validate_config_help_says_how_configfiles_merge(capsys):
    with pytest.raises(SystemExit):
        main(["validate-config", "--help"])
    out = capsys.readouterr().out
    assert "merges every" in out and "--replace-workflow-config" in out
    readme = (REPO / "README.md").read_text()
    assert "overlays X on it" in readme and "--replace-workflow-config" in readme


# ---- case 5: one-line errors naming the file, the field and the value ---------------------------
def test_truncated_layout_and_warm_start_file(artifact_dir, tmp_path, capsys):
    from helix.artifact.cluster_ini import read_cluster_ini
    from helix.layout import Layout

    text = "num_layers: 60\nlayers:\n  n0: [0, 12]\n  n1: [12, 2"
    (tmp_path / "layout.yaml").write_text(text)
    with pytest.raises(HelixInputError) as exc:
        Layout.load(tmp_path / "layout.yaml")
    msg = exc.value.one_line()
    assert (
        msg.startswith(f"{tmp_path / 'layout.yaml'}: line ") and "not valid YAML" in msg and "\n" not in msg
    )

    read_cluster_ini(artifact_dir / f"{AE}/ablation/config/cluster10.ini", "small10").save(
        tmp_path / "small10.yaml"
    )
    model = artifact_dir / f"{AE}/single_cluster/models/llama30b/config.json"
    err = _one_line_exit_2(
        capsys,
        [
            *_PLACE,
            "--cluster",
            str(tmp_path / "small10.yaml"),
            "--model",
            "llama30b",
            "--model-config",
            str(model),
            "--backend",
            "heuristic",
            "--time-limit",
            "2",
            "--warm-start-file",
            str(tmp_path / "layout.yaml"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert "layout.yaml: line" in err
    assert not (tmp_path / "out" / "layout.yaml").exists()


@pytest.mark.parametrize(
    "content",
    ["", '{"window": [0.0, 10.0], "decode_throughput_tps": 1', '{"decode_throughput_tps": 1.0}', "[1, 2]"],
)
def test_aggregate_of_a_bad_part_metrics_file(tmp_path, content):
    from helix.sim.outputs import write_aggregate

    part = tmp_path / "results/sims/c-a/m/paper-separate/random/online"
    part.mkdir(parents=True)
    (part / "metrics.json").write_text(content)
    outs = {
        k: tmp_path / "agg" / f"{k}.x" for k in ("metrics", "requests", "congestion", "iterations", "meta")
    }
    with pytest.raises(HelixInputError) as exc:
        write_aggregate(outs, [part], {"workload": {}})
    msg = exc.value.one_line()
    assert str(part / "metrics.json") in msg and "\n" not in msg
    assert not (tmp_path / "agg").exists()


def test_simulate_out_naming_a_file_is_refused_before_simulating(tmp_path, capsys):
    (tmp_path / "taken").write_text("keep me")
    err = _one_line_exit_2(
        capsys,
        [
            "simulate",
            "--cluster",
            "single24",
            "--model",
            "llama70b",
            "--method",
            "paper-helix",
            "--scheduler",
            "helix",
            "--mode",
            "offline",
            "--out",
            str(tmp_path / "taken"),
        ],
    )
    assert "--out: exists and is not a directory" in err
    assert (tmp_path / "taken").read_text() == "keep me"


@pytest.mark.parametrize(
    ("option", "value", "expected"), [("--backend", "cplex", "cplex"), ("--time-limit", "-3", "-3")]
)
def test_place_option_errors_name_the_option(artifact_dir, tmp_path, capsys, option, value, expected):
    err = _one_line_exit_2(
        capsys,
        [
            *_PLACE,
            "--cluster",
            str(tmp_path / "c.yaml"),
            "--model",
            "llama70b",
            option,
            value,
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert f"command line: {option}: " in err and expected in err and "pydantic" not in err


def test_yaml_errors_in_config_files_give_the_line(tmp_path, capsys):
    from helix.config.schema import load_config

    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 0\nmodels:\n  m: {config_json: x.json\ngpus: {}\n")
    with pytest.raises(HelixInputError) as exc:
        load_config(bad)
    assert exc.value.one_line().startswith(f"{bad}: line ") and "not valid YAML" in exc.value.one_line()
    err = _one_line_exit_2(capsys, ["validate-config", "--alone", str(bad)])
    assert ": line " in err
    bad.write_text("seed: 0\n  models: {}\n")  # a bad indent
    with pytest.raises(HelixInputError, match=r"bad.yaml: line 2: not valid YAML"):
        load_config(bad)


# ---- case 6: temporary folders, file modes, empty logs --------------------------------------------
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_respect_the_umask(tmp_path, mask):
    from helix.io import write_json, write_text

    old = os.umask(mask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_text(tmp_path / "b.txt", "x")
        with open(tmp_path / "plain", "w") as fh:  # the reference: what open() gives
            fh.write("x")
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert want == 0o666 & ~mask
    for name in ("a.json", "b.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name


@pytest.mark.parametrize("content", ["", "time,request_id,direction,phase,context_len,tokens\n"])
def test_parse_log_of_an_empty_log_is_an_error(tmp_path, capsys, content):
    log = tmp_path / "events.csv"
    log.write_text(content)
    err = _one_line_exit_2(capsys, ["parse-log", str(log)])
    assert str(log) in err


def test_parse_log_of_an_empty_paper_log_is_an_error(tmp_path, capsys):
    (tmp_path / "events.txt").write_text("\n\n")
    err = _one_line_exit_2(capsys, ["parse-log", str(tmp_path / "events.txt")])
    assert "no events" in err


@pytest.mark.slow
def test_simulate_leaves_no_temporary_folders(repo, artifact_dir, tmp_path):
    """Without imported traces `helix simulate` converts them into a temporary folder: removed after
    a run and after a failed one."""
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir(), tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), HELIX_ARTIFACT_DIR=str(artifact_dir))
    base = [
        sys.executable,
        "-m",
        "helix.cli",
        "simulate",
        "--config",
        str(repo / "config/config.yaml"),
        "--profiles",
        "artifact",
        "--cluster",
        "single24",
        "--model",
        "llama70b",
        "--scheduler",
        "helix",
        "--mode",
        "offline",
        "--quiet",
    ]
    ok = subprocess.run(
        [*base, "--method", "paper-helix", "--duration", "20", "--n-init", "4", "--out", str(work / "ok")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads((work / "ok/metrics.json").read_text())["decode_throughput_tps"] > 0
    bad = subprocess.run(
        [*base, "--method", "helix", "--out", str(work / "bad")],  # no placement layout here
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (
        bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    ), bad.stderr
    assert list(tmp.iterdir()) == []
