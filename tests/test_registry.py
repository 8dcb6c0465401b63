"""One registry type for every family (helix.registry), and a new scheduler as one file + one registration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from helix.errors import HelixInputError
from helix.registry import Registry

from snakemake_cli import snakemake_cmd

REPO = Path(__file__).resolve().parents[1]


def test_registry_names_patterns_and_errors():
    reg: Registry = Registry("widget", modules={"lazy": "no.such.module"}, source="config", field="widget")

    @reg.register("b-one")
    class B:
        pass

    @reg.register("a")
    def a():
        return 1

    assert B.name == "b-one" and reg.get("a") is a
    assert reg.choices() == ["a", "b-one", "lazy"]  # the lazy member is a choice without its import
    assert reg.choices(exclude=["a"]) == ["b-one", "lazy"]
    pattern = reg.pattern(extra=["x-[0-9]+"])
    assert all(re.fullmatch(pattern, n) for n in ("a", "b-one", "lazy", "x-12"))
    assert not re.fullmatch(pattern, "b") and not re.fullmatch(pattern, "bxone")  # names are escaped
    with pytest.raises(
        HelixInputError, match=r"^config: widget: unknown widget \(known: a, b-one, lazy\) \(got 'c'\)$"
    ):
        reg.get("c")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(lambda: 2)


def test_every_family_uses_the_registry():
    from helix.figures import FIGURE_BUILDERS
    from helix.placement.base import METHODS
    from helix.placement.milp.backends import BACKENDS
    from helix.prototype.engines import ENGINES
    from helix.scheduling import SCHEDULERS

    assert SCHEDULERS.choices() == ["helix", "random", "shortest_queue", "swarm"]
    assert {"helix", "paper", "petals", "separate", "sp_plus", "swarm"} <= set(METHODS.choices())
    assert BACKENDS.choices() == ["cpsat", "gurobi", "highs"]
    assert "torch" in ENGINES.choices()
    assert {"throughput", "latency", "placement", "congestion", "solver", "table8", "reproduction"} <= set(
        FIGURE_BUILDERS.choices()
    )
    assert all(isinstance(r, Registry) for r in (SCHEDULERS, METHODS, BACKENDS, ENGINES, FIGURE_BUILDERS))


# The whole of a new scheduler: one file, one registration (here outside the repository, named in
# $HELIX_PLUGINS; inside it, the same file in helix/scheduling/ needs nothing else).
PLUGIN = '''
from helix.scheduling import register
from helix.scheduling.naive import RandomScheduler


@register("first_free")
class FirstFreeScheduler(RandomScheduler):
    """A prompt takes the sender's first idle link (no random draw)."""

    def choose_prompt(self, uid, req, free, taken, net):
        return next((j for j, _ in free if j not in taken), None)
'''
TARGET = "results/sims/single24/llama70b/paper-helix/first_free/offline/metrics.json"


@pytest.mark.slow
def test_new_scheduler_is_one_file_and_reaches_the_simulate_rule(tmp_path, artifact_dir):
    plug = tmp_path / "plugins"
    plug.mkdir()
    (plug / "first_free_sched.py").write_text(textwrap.dedent(PLUGIN))
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["experiments"] = {
        "single_cluster": {
            "section": "6.3",
            "simulations": [
                {
                    "cluster": "single24",
                    "model": "llama70b",
                    "method": "paper-helix",
                    "scheduler": "first_free",
                    "mode": "offline",
                    "workload": {"mode": "offline", "n_init": 2},
                }
            ],
        }
    }
    cfg.pop("prototypes", None)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    base_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(plug)])}
    base_env.pop("HELIX_PLUGINS", None)
    cmd = snakemake_cmd(work, "-n", TARGET)

    # without the plugin the config names an unknown scheduler: one line, nothing planned
    run = subprocess.run(cmd, capture_output=True, text=True, env=base_env, timeout=300)
    assert run.returncode != 0
    assert "unknown scheduler 'first_free'" in run.stdout + run.stderr

    env = {**base_env, "HELIX_PLUGINS": "first_free_sched"}
    pattern = subprocess.run(
        [sys.executable, "-c", "from helix.scheduling import SCHEDULERS; print(SCHEDULERS.pattern())"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout.strip()
    assert pattern == "first_free|helix|random|shortest_queue|swarm"
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert re.search(r"rule simulate:.*?scheduler=first_free", out, re.S), out[-3000:]


def test_placement_rules_split_method_names_without_overlap():
    """Every method name matches exactly one of the placement rules' patterns, built from the registry."""
    from helix.placement.base import METHODS, get_method
    from helix.placement.workflow import HELIX_FAMILY_PATTERN, METHOD_PATTERN, is_helix_family

    for name in [
        *METHODS.choices(exclude=["paper"]),
        "helix-pruned",
        "helix-nowarm",
        "paper-helix",
        "paper-sp_plus",
    ]:
        family, other = re.fullmatch(HELIX_FAMILY_PATTERN, name), re.fullmatch(METHOD_PATTERN, name)
        assert bool(family) != bool(other), name
        assert is_helix_family(name) == bool(family)
        assert get_method(name) is not None
    assert not re.fullmatch(METHOD_PATTERN, "paper") and not re.fullmatch(HELIX_FAMILY_PATTERN, "helix-")
