"""The README's worked example, run as written: a new model and a new GPU, one config edit, one command.

The commands and the config edit are read from the README's "Worked example" section, so the README
and this test cannot drift apart. The edit is applied to the small test config (counted placement
budget, short simulations) and the run happens in a scratch directory with real Snakemake. The same
command then builds LLaMA-2 70B on a cluster of H100, L40S and T4 (both predicted GPU types), and a
changed entry of a GPU type no cluster uses reruns nothing.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

SECTION = "## Worked example"
MISTRAL = "results/sims/mix12/mistral7b/helix/helix/offline"
LLAMA = "results/sims/whatif70/llama70b/helix/helix/offline"


def _section(repo: Path) -> str:
    text = (repo / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _blocks(section: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _merge(base: dict, edit: dict) -> dict:
    out = dict(base)
    for key, value in edit.items():
        out[key] = {**out.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def _snakemake_cmd(repo: Path, work: Path, config: Path, line: str) -> list[str]:
    words = line.split()
    assert words[0] == "snakemake"
    return [
        sys.executable,
        "-m",
        "snakemake",
        *words[1:],
        "-s",
        str(repo / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
    ]


def _run(cmd, work: Path, **kw):
    env = dict(os.environ)
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900, **kw)


def _finite(metrics: dict) -> bool:
    values = [
        metrics["decode_throughput_tps"],
        *metrics["decode_latency_s"].values(),
        *metrics["prompt_latency_s"].values(),
    ]
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def example(repo, artifact_dir, tmp_path_factory):
    """Run the README section in a scratch directory; returns (work dir, config path, snakemake runs)."""
    work = tmp_path_factory.mktemp("whatif")
    blocks = _blocks(_section(repo))
    shell = [code for lang, code in blocks if lang == "bash"]
    edits = [yaml.safe_load(code) for lang, code in blocks if lang == "yaml"]
    assert len(edits) == 1, "the worked example is one config edit"
    assert len(shell) == 3 and "config.json" in shell[0] and shell[1].strip().startswith("snakemake")

    # the config: the small test config plus the README's edit, plus a second what-if cluster
    cfg = _merge(yaml.safe_load((repo / "config/test/config.yaml").read_text()), edits[0])
    cfg["gpus"].update(
        {
            "H100": {"num_gpus": 1, "vram_bytes": 80e9},
            "L40S": {"num_gpus": 1, "vram_bytes": 48e9},
            "V100": {"num_gpus": 1, "vram_bytes": 16e9},
        }
    )  # V100: in no cluster
    cfg["clusters"]["whatif70"] = {
        "generator": "fake",
        "seed": 0,
        "types": {"H100": 4, "L40S": 4, "T4": 4},
        "link": {"bandwidth": 1e9, "latency": 0.001},
    }
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))

    made = _run(["bash", "-euc", shell[0]], work)
    assert made.returncode == 0, made.stderr
    target = shell[1].strip().split()[-1]
    assert target == f"{MISTRAL}/metrics.json"
    # one snakemake command builds both what-if runs (the README's target plus LLaMA-2 70B)
    cmd = _snakemake_cmd(repo, work, config, f"{shell[1].strip()} {LLAMA}/metrics.json")
    run = _run(cmd, work)
    return work, config, shell, run


def test_readme_example_builds_finite_metrics_with_predicted_profiles(example):
    work, _, shell, run = example
    assert run.returncode == 0, run.stderr[-4000:]
    metrics = json.loads((work / MISTRAL / "metrics.json").read_text())
    assert _finite(metrics) and metrics["decode_throughput_tps"] > 0
    meta = json.loads((work / MISTRAL / "meta.json").read_text())["profiles"]
    # Mistral was never measured: every GPU type's profile is predicted, each from the fit
    assert set(meta) <= {"B200", "A100", "T4"} and "B200" in meta
    for gpu, prov in meta.items():
        assert prov["profile"]["source"] == "predicted", gpu
        assert "llama70b/A100" in prov["profile"]["fit_trained_on"]
        assert prov["limits"]["source"] == "derived"
    assert meta["B200"]["profile"]["datasheet"] == "config gpus.B200"
    # the placement's meta says the same
    pmeta = json.loads((work / "results/placements/mix12/mistral7b/helix/meta.json").read_text())["profiles"]
    assert pmeta["B200"]["profile"]["source"] == "predicted" and pmeta["B200"]["profile"][
        "datasheet"
    ].startswith("config gpus.B200")
    # the README's "read the result" commands run and print what they say
    for line in shell[2].strip().splitlines():
        out = _run(["bash", "-euc", line], work)
        assert out.returncode == 0, out.stderr
        assert "decode tok/s" in out.stdout or "predicted" in out.stdout


def test_llama70b_on_h100_l40s_t4(example):
    work, _, _, run = example
    assert run.returncode == 0, run.stderr[-4000:]
    metrics = json.loads((work / LLAMA / "metrics.json").read_text())
    assert _finite(metrics) and metrics["decode_throughput_tps"] > 0
    meta = json.loads((work / LLAMA / "meta.json").read_text())["profiles"]
    assert {g: meta[g]["profile"]["source"] for g in meta} == {
        "H100": "predicted",
        "L40S": "predicted",
        "T4": "artifact",
    }
    assert meta["T4"]["limits"] == {"source": "measured", "file": "helix/data/engine_limits/llama70b.yaml"}
    assert meta["H100"]["limits"]["source"] == "derived"
    # only the cluster's GPU types were profiled: no V100 (in no cluster) and no A100 for 70B
    assert not (work / "resources/profiles/llama70b/v100").exists()
    assert not (work / "resources/profiles/llama70b/a100").exists()


def test_changing_an_unused_gpu_reruns_nothing(repo, example):
    work, config, _, run = example
    assert run.returncode == 0, run.stderr[-4000:]
    original = config.read_text()
    cfg = yaml.safe_load(original)
    changed = work / "changed.yaml"
    cfg["gpus"]["V100"] = {"num_gpus": 1, "vram_bytes": 32e9, "peak_flops": 1.3e14, "mem_bandwidth": 9e11}
    changed.write_text(yaml.safe_dump(cfg))
    targets = f"snakemake -n --cores 1 {MISTRAL}/metrics.json {LLAMA}/metrics.json"
    dry = _run(_snakemake_cmd(repo, work, changed, targets), work)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, (dry.stdout + dry.stderr)[-3000:]
    # a change to a GPU the runs use does rerun them (the check above could not pass vacuously)
    cfg["gpus"]["B200"]["mem_bandwidth"] = 7.0e12
    changed.write_text(yaml.safe_dump(cfg))
    dry = _run(_snakemake_cmd(repo, work, changed, targets), work)
    out = dry.stdout + dry.stderr
    assert (
        dry.returncode == 0
        and "predict_profile" in out
        and "simulate" in out
        and "Nothing to be done" not in out
    )
    assert config.read_text() == original


def test_cli_place_reproduces_the_workflow_placement(example):
    """`helix place` by config names with the workflow's preset (here `default`) writes the same layout."""
    work, config, _, run = example
    assert run.returncode == 0, run.stderr[-4000:]
    out = work / "cli-place"
    cmd = [
        sys.executable,
        "-m",
        "helix.cli",
        "place",
        "--config",
        str(config),
        "--cluster",
        "mix12",
        "--model",
        "mistral7b",
        "--method",
        "helix",
        "--preset",
        "default",
        "--out",
        str(out),
    ]
    done = _run(cmd, work)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"max-flow \d+\.\d tok/s", done.stdout)  # rounded figures
    ours = work / "results/placements/mix12/mistral7b/helix"
    assert (out / "layout.yaml").read_bytes() == (ours / "layout.yaml").read_bytes()
    flow_cli, flow_rule = (json.loads((d / "flow.json").read_text()) for d in (out, ours))
    flow_cli.pop("seconds", None), flow_rule.pop("seconds", None)
    assert flow_cli == flow_rule


def test_custom_runs_table_figure_and_report_mark_predicted_gpus(repo, example):
    """An experiment without paper figures groups the two runs: the custom-runs table, chart and report."""
    work, config, _, run = example
    assert run.returncode == 0, run.stderr[-4000:]
    cfg = yaml.safe_load(config.read_text())
    wl = {"mode": "offline", **cfg["simulation_defaults"]["offline"]}  # the defaults: nothing reruns
    cfg["experiments"]["mine"] = {
        "description": "the README's what-if runs",
        "simulations": [
            {
                "cluster": "mix12",
                "model": "mistral7b",
                "method": "helix",
                "scheduler": "helix",
                "mode": "offline",
                "workload": wl,
            },
            {
                "cluster": "whatif70",
                "model": "llama70b",
                "method": "helix",
                "scheduler": "helix",
                "mode": "offline",
                "workload": wl,
            },
        ],
    }
    grouped = work / "grouped.yaml"
    grouped.write_text(yaml.safe_dump(cfg))
    made = _run(_snakemake_cmd(repo, work, grouped, "snakemake --cores 1 custom_runs"), work)
    out = made.stdout + made.stderr
    assert made.returncode == 0, out[-3000:]
    assert "simulate" not in out.split("Job stats")[-1].split("Reasons")[0]  # only the table and chart ran
    import csv

    table = {r["run"]: r for r in csv.DictReader((work / "results/tables/custom_runs.csv").open())}
    assert table["mix12/mistral7b/helix/helix/offline"]["predicted_gpus"] == "A100 B200 T4"
    assert table["whatif70/llama70b/helix/helix/offline"]["predicted_gpus"] == "H100 L40S"
    assert table["whatif70/llama70b/helix/helix/offline"]["measured_gpus"] == "T4"
    assert float(table["mix12/mistral7b/helix/helix/offline"]["decode_throughput_tps"]) > 0
    assert (work / "results/figures/custom_runs.png").stat().st_size > 0
    html = work / "report.html"
    rep = _run(_snakemake_cmd(repo, work, grouped, f"snakemake --cores 1 --report {html} custom_runs"), work)
    assert rep.returncode == 0, (rep.stdout + rep.stderr)[-3000:]
    text = html.read_text()
    assert "Custom runs" in text and "custom_runs.csv" in text and "custom_runs.png" in text
