"""The typed config: the paper and test configs validate, the schema does not drift, bad input fails."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helix.config.jsonschema import SCHEMA_PATH, config_schema_text
from helix.config.schema import load_config, validate_config
from helix.errors import HelixInputError

REPO = Path(__file__).resolve().parents[1]


def _paper() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_paper_and_test_configs_validate():
    cfg = load_config(REPO / "config" / "config.yaml")
    assert {"single24", "geo24", "hetero42", "small10", "single24-a100", "geo24-t4"} <= set(cfg.clusters)
    assert set(cfg.models) >= {"llama30b", "llama70b"}
    load_config(REPO / "config" / "test" / "config.yaml")


def test_checked_in_schema_matches_models():
    assert SCHEMA_PATH.read_text() == config_schema_text(), "run `helix schema` to regenerate"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["clusters"]["single24"]["types"].update({"H9000": 2}), "unknown GPU type 'H9000'"),
        (lambda d: d["clusters"]["single24"]["link"].update({"bandwidth": -1}), "clusters.single24"),
        (lambda d: d["clusters"]["single24"]["link"].update({"bandwidth": 0}), "greater than 0"),
        (lambda d: d["gpus"]["T4"].pop("vram_bytes"), "gpus.T4.vram_bytes: Field required"),
        (lambda d: d["clusters"]["single24-a100"].update({"parent": "nope"}), "unknown cluster 'nope'"),
        (lambda d: d.update({"colour": "blue"}), "colour: Extra inputs are not permitted"),
        (
            lambda d: d["experiments"]["single_cluster"]["simulations"][0].update({"model": "gpt9"}),
            "experiments.single_cluster.simulations[0].model: unknown model 'gpt9'",
        ),
        (
            lambda d: d["experiments"]["single_cluster"]["simulations"][1].update({"cluster": "nowhere"}),
            "experiments.single_cluster.simulations[1].cluster: unknown cluster 'nowhere'",
        ),
    ],
)
def test_bad_config_gives_one_line_error(mutate, expected):
    data = copy.deepcopy(_paper())
    mutate(data)
    with pytest.raises(HelixInputError) as info:
        validate_config(data, "config/config.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("config/config.yaml: ")
    assert expected in msg


def test_malformed_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed\n")
    with pytest.raises(HelixInputError, match=r"bad.yaml: line 2: not valid YAML"):
        load_config(bad)


def test_cli_validate_config_exit_codes(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "helix.cli", "validate-config", str(REPO / "config/config.yaml")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    data = _paper()
    data["gpus"]["A100"]["vram_bytes"] = "lots"
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = subprocess.run(
        [sys.executable, "-m", "helix.cli", "validate-config", str(bad)], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "gpus.A100.vram_bytes" in res.stderr and "'lots'" in res.stderr


def test_snakefile_rejects_bad_config_at_startup(tmp_path):
    data = _paper()
    data["clusters"]["geo24"]["regions"][0][0] = "B200X"
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "-s",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(bad),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0
    assert "unknown GPU type 'B200X'" in res.stdout + res.stderr
