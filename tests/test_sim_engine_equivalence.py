"""The event loop's shortcuts change no number: the current engine against the engine of cc61853.

cc61853 is the engine before issue 14's rewrite (every landing on a node an event unless the node
was known busy, the per-request batch scan): it reproduces the paper's section 6.3 rows, so it is
the reference the faster loop must equal, output for output - every finished iteration (time and
latency), the per-node and per-link congestion accumulators, the KV peaks and every query's route
and summary. Only the count of processed events may differ. Skipped where git history is missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import helix.sim.run as run_mod
from helix.sim.run import simulate

from test_sim_kit import chain, diamond, paper_case_args, sim_state, store, tiny_model, tiny_workload, traces

REPO = Path(__file__).resolve().parents[1]
BASELINE_REV = "cc61853"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    src = subprocess.run(
        ["git", "show", f"{BASELINE_REV}:helix/sim/engine.py"], cwd=REPO, capture_output=True, text=True
    )
    if src.returncode != 0:
        pytest.skip(f"no git history for {BASELINE_REV}")
    path = tmp_path_factory.mktemp("baseline") / "engine_baseline.py"
    path.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location("engine_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["engine_baseline"] = mod
    spec.loader.exec_module(mod)
    return mod.Simulator


def _fingerprint(out) -> dict:
    queries = repr(
        [
            (q.route, q.done, q.finish, q.prompt_lat, q.prompt_fin, q.dec_sum, q.dec_max, q.rejected)
            for q in out.result.queries
        ]
    )
    metrics = {k: v for k, v in out.metrics.items() if k != "events"}
    return {**sim_state(out), "queries": queries, "metrics": repr(metrics)}


def _both(baseline, monkeypatch, *args, **kwargs):
    cur = simulate(*args, **kwargs)
    monkeypatch.setattr(run_mod, "Simulator", baseline)
    old = simulate(*args, **kwargs)
    monkeypatch.undo()
    return cur, old


def _assert_same(cur, old):
    a, b = _fingerprint(cur), _fingerprint(old)
    diff = [n for n in a if a[n] != b[n]]
    assert not diff, f"outputs differ from the {BASELINE_REV} engine: {diff}"
    assert cur.metrics["n_decodes"] > 0


@pytest.mark.parametrize("sched", ["helix", "swarm", "random", "shortest_queue"])
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_tiny_placements_equal_the_baseline(baseline, monkeypatch, sched, mode, artifact_dir):
    (lengths, counts) = traces()
    for graph in (diamond(), chain()):
        spec = tiny_workload(mode, sched)
        _assert_same(
            *_both(baseline, monkeypatch, tiny_model(), *graph, store(), sched, spec, lengths, counts)
        )


# the paper's layouts: fused walks and parked landings (helix), mid-range entry (petals' partial
# arcs), slow cross-region links (geo24), hop-by-hop polls (swarm, shortest queue)
PAPER_CASES = [
    ("single24", "llama70b", "paper-helix", "helix", {"mode": "offline", "duration_s": 90}),
    ("geo24", "llama70b", "paper-petals", "helix", {"mode": "offline", "duration_s": 90}),
    ("geo24", "llama70b", "paper-swarm", "swarm", {"mode": "online", "rate_tps": 160, "duration_s": 120}),
    (
        "geo24",
        "llama70b",
        "paper-helix-sched",
        "shortest_queue",
        {"mode": "offline", "n_init": 180, "duration_s": 60},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", PAPER_CASES, ids=lambda c: "-".join(c[:4]))
def test_paper_layouts_equal_the_baseline(baseline, monkeypatch, artifact_dir, case):
    cur, old = _both(baseline, monkeypatch, *paper_case_args(artifact_dir, case))
    _assert_same(cur, old)
    assert cur.result.events <= old.result.events
