"""The repository's workflow run as users run it: ``python -m snakemake`` on its Snakefile, in a
scratch directory of the test (the real Snakemake runs of the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snakemake_cmd(workdir: Path, *args: str, config: Path | None = None, cores: int = 1) -> list[str]:
    """The command line that runs ``args`` (targets, flags) in ``workdir``; ``config`` is passed as
    --configfile (without it the Snakefile reads ``workdir/config/config.yaml``)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir)]
    if config is not None:
        cmd += ["--configfile", str(config)]
    return [*cmd, "--cores", str(cores), *args]


def run_snakemake(
    workdir: Path,
    *args: str,
    config: Path | None = None,
    cores: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``snakemake_cmd`` to its end, its output captured as text (``env``: this process's)."""
    return subprocess.run(
        snakemake_cmd(workdir, *args, config=config, cores=cores),
        env=dict(os.environ) if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
