"""The rule runner (helix.runner): what a job leaves in its log, in a real Snakemake run and alone."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from helix.errors import HelixInputError
from helix.runner import rule_log

REPO = Path(__file__).resolve().parents[1]


def _sm(tmp_path, rule="demo"):
    return SimpleNamespace(log=[str(tmp_path / "logs" / f"{rule}.log")], rule=rule)


def test_input_error_is_one_line_in_log_and_stderr_exit_1(tmp_path, capsys):
    sm = _sm(tmp_path)
    with pytest.raises(SystemExit) as info, rule_log(sm):
        raise HelixInputError("config/x.yaml", "clusters.c1", "unknown GPU type", "B200X")
    assert info.value.code == "error: config/x.yaml: clusters.c1: unknown GPU type (got 'B200X')"
    text = Path(sm.log[0]).read_text()
    assert text.startswith("# rule demo: helix-workflow ")
    assert text.splitlines()[-1] == "error: config/x.yaml: clusters.c1: unknown GPU type (got 'B200X')"
    assert "Traceback" not in text


def test_logging_progress_and_crash_traceback_reach_the_log(tmp_path, capsys):
    sm = _sm(tmp_path)
    with pytest.raises(ZeroDivisionError), rule_log(sm) as log:
        print("own line", file=log)
        logging.getLogger("helix.demo").info("a logging record")
        print("[sim] progress on stderr", file=sys.stderr)
        print("stdout line")
        1 / 0  # noqa: B018
    text = Path(sm.log[0]).read_text()
    for expected in (
        "own line",
        "INFO helix.demo: a logging record",
        "[sim] progress on stderr",
        "stdout line",
        "Traceback (most recent call last)",
        "ZeroDivisionError: division by zero",
    ):
        assert expected in text
    # tee'd, not swallowed: an interactive run still sees progress; the streams are restored after
    assert "[sim] progress on stderr" in capsys.readouterr().err
    assert not any(
        isinstance(h, logging.StreamHandler) and getattr(h.stream, "name", "") == sm.log[0]
        for h in logging.getLogger().handlers
    )
    print("after")
    assert "after" not in Path(sm.log[0]).read_text()


SNAKEFILE = """
rule crash:
    output: "crash.txt"
    log: "logs/crash.log"
    script: "crash.py"

rule bad_input:
    output: "bad.txt"
    log: "logs/bad.log"
    script: "bad.py"
"""

CRASH = """
from helix.runner import rule_log

def library_call():
    raise RuntimeError("deliberate failure deep in the library")

with rule_log(snakemake) as log:
    print("started", file=log)
    library_call()
"""

BAD = """
from helix.errors import HelixInputError
from helix.runner import rule_log

with rule_log(snakemake):
    raise HelixInputError("config/demo.yaml", "models.m", "unknown model", "m9")
"""


@pytest.mark.slow
def test_failing_rule_leaves_traceback_in_its_log(tmp_path):
    """A real Snakemake run: the crashing job's log file holds its traceback; bad input is one line."""
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "crash.py").write_text(CRASH)
    (tmp_path / "bad.py").write_text(BAD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--keep-going", "crash.txt", "bad.txt"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    crash = (tmp_path / "logs" / "crash.log").read_text()
    assert crash.startswith("# rule crash: helix-workflow ")
    assert "started" in crash
    assert "Traceback (most recent call last)" in crash
    assert "in library_call" in crash
    assert "RuntimeError: deliberate failure deep in the library" in crash
    bad = (tmp_path / "logs" / "bad.log").read_text()
    assert bad.splitlines()[-1] == "error: config/demo.yaml: models.m: unknown model (got 'm9')"
    assert "Traceback" not in bad
    assert "error: config/demo.yaml: models.m: unknown model (got 'm9')" in run.stderr
    assert not (tmp_path / "crash.txt").exists() and not (tmp_path / "bad.txt").exists()
