"""A real snakemake run of figure rules on fabricated metric files in a temporary directory.

Checks the rule wiring end to end: inputs are exactly the figure's metric files, prototype bars
come from the paper's logs through `helix parse-log` (rule paper_proto_metrics), a second run does
nothing, and changing one experiment's metrics reruns only the figure that shows it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_figures_fixtures import write_inputs

from helix.figures.catalog import Context, build_catalog, spec_inputs

pytestmark = pytest.mark.slow
ALLOWED = ["fig5a", "fig5c", "paper_proto_metrics"]


def _snakemake(repo: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [
        str(exe),
        "-s",
        str(repo / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        "1",
        *args,
        "--allowed-rules",
        *ALLOWED,
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=600)


def test_snakemake_builds_fig5a_and_fig5c(repo, artifact_dir, tmp_path):
    specs = build_catalog(Context(exists=lambda p: False, artifact_dir=artifact_dir))
    inputs = sorted(set(spec_inputs(specs["fig5a"])) | set(spec_inputs(specs["fig5c"])))
    sims = [p for p in inputs if p.startswith("results/sims/")]
    assert len(sims) == 6
    write_inputs(tmp_path, sims)
    (tmp_path / "config").mkdir()
    shutil.copy(repo / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    targets = [
        "results/figures/fig5a.pdf",
        "results/figures/fig5a.png",
        "results/figures/fig5c.pdf",
        "results/figures/fig5c.png",
    ]

    run = _snakemake(repo, tmp_path, *targets)
    assert run.returncode == 0, run.stderr[-3000:]
    for t in targets:
        assert (tmp_path / t).stat().st_size > 1000
    # fig5c's prototype bars: the paper's online logs parsed by our parser (30B Helix: 3 sub-clusters)
    helix_proto = tmp_path / "results/figures/data/paper-proto/single24/llama30b/helix/helix/online.json"
    parsed = json.loads(helix_proto.read_text())
    assert parsed["prompt_latency_s"]["p50"] == pytest.approx(0.46, abs=0.005)  # printed pooled median
    assert parsed["decode_throughput_tps"] == pytest.approx(136.4 + 32.2 + 29.3, abs=0.2)
    assert "wrote" in (tmp_path / "logs/figures/fig5c.log").read_text()

    # the HTML report carries each figure with its caption (report/*.rst)
    pytest.importorskip("pygments")  # the `reports` extra
    report = _snakemake(repo, tmp_path, "--report", "report.html", *targets)
    assert report.returncode == 0, report.stderr[-2000:]
    html = (tmp_path / "report.html").read_text()
    assert "fig5a.png" in html and "offline decode throughput" in html

    again = _snakemake(repo, tmp_path, "-n", *targets)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    # a new result for one 30B offline run: only fig5a is out of date
    changed = tmp_path / "results/sims/single24/llama30b/paper-swarm/swarm/offline/metrics.json"
    m = json.loads(changed.read_text())
    m["decode_throughput_tps"] += 10
    changed.write_text(json.dumps(m))
    plan = _snakemake(repo, tmp_path, "-n", *targets)
    out = plan.stdout + plan.stderr
    planned = set(re.findall(r"^(?:local)?rule (\w+):", out, re.M))
    assert plan.returncode == 0 and planned == {"fig5a"}, out[-2000:]
