"""The compiled event loop (helix.sim._loop_c, Cython) against the Python one it is built from.

``helix/sim/loop.py`` is the reference; ``setup.py`` compiles a copy of it typed by ``loop.pxd``.
Both must produce the same simulation, output for output: every finished iteration (time and
latency), the congestion accumulators, the KV peaks, every query's route and summary, the event
count. The comparison tests skip where no compiled copy was built (no C compiler); the selection
tests (stale build, environment switch) run everywhere.
"""

from __future__ import annotations

import pytest

import helix.sim.engine as engine
from helix.errors import HelixRunError
from helix.sim import loop as py_loop
from helix.sim.run import simulate
from helix.sim.settings import WorkloadSpec

from test_sim_kit import chain, diamond, paper_case_args, sim_state, store, tiny_model, tiny_workload, traces

needs_compiled = pytest.mark.skipif(
    engine.compiled_core() is None, reason="helix.sim._loop_c not built (python setup.py build_ext --inplace)"
)


def _fingerprint(out) -> dict:
    sim = out.sim
    queries = repr(
        [
            (
                q.qid,
                q.arrival,
                q.route,
                q.done,
                q.finish,
                q.prompt_lat,
                q.prompt_fin,
                q.dec_sum,
                q.dec_max,
                q.rejected,
                q.kv_expect,
            )
            for q in out.result.queries
        ]
    )
    return {
        **sim_state(out),
        "nic_out": sim.nic_out_free_,
        "nic_in": sim.nic_in_free_,
        "link_free": sim.link_free,
        "queries": queries,
        "metrics": repr(out.metrics),
        "events": out.result.events,
        "rejected": out.result.rejected,
        "now": sim.now,
    }


def _both(monkeypatch, *args):
    outs = {}
    for core in ("python", "compiled"):
        monkeypatch.setenv("HELIX_SIM_CORE", core)
        out = simulate(*args)
        assert out.sim.core is (py_loop if core == "python" else engine.compiled_core())
        outs[core] = _fingerprint(out)
    diff = [n for n in outs["python"] if outs["python"][n] != outs["compiled"][n]]
    assert not diff, f"the compiled loop differs from helix/sim/loop.py in: {diff}"
    return outs["python"]


@needs_compiled
@pytest.mark.parametrize("sched", ["helix", "swarm", "random", "shortest_queue"])
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_tiny_placements_same_in_both_loops(monkeypatch, sched, mode, artifact_dir):
    (lengths, counts) = traces()
    for graph in (diamond(), chain()):
        spec = tiny_workload(mode, sched)
        fp = _both(monkeypatch, tiny_model(), *graph, store(), sched, spec, lengths, counts)
        assert len(fp["decode"]) > 0  # decodes were recorded


PAPER_CASES = [
    ("single24", "llama70b", "paper-helix", "helix", {"mode": "offline", "duration_s": 60}),
    ("geo24", "llama70b", "paper-petals", "helix", {"mode": "offline", "duration_s": 60}),
    ("geo24", "llama70b", "paper-swarm", "swarm", {"mode": "online", "rate_tps": 160, "duration_s": 90}),
]


@needs_compiled
@pytest.mark.parametrize("case", PAPER_CASES, ids=lambda c: "-".join(c[:4]))
def test_paper_layouts_same_in_both_loops(monkeypatch, artifact_dir, case):
    _both(monkeypatch, *paper_case_args(artifact_dir, case))


@needs_compiled
def test_kv_overflow_is_the_same_error_in_both_loops(monkeypatch, artifact_dir):
    """The compiled loop raises the engine's SimulationError, with the same message."""
    (lengths, counts) = traces()
    graph = diamond(kv={"n4": 4 * 3000, "n5": 4 * 3000})  # room for a few requests (test_sim.py)
    spec = WorkloadSpec(mode="offline", warmup_s=5, duration_s=30)
    msgs = []
    for core in ("python", "compiled"):
        monkeypatch.setenv("HELIX_SIM_CORE", core)
        with pytest.raises(engine.SimulationError) as exc:
            simulate(
                tiny_model(),
                *graph,
                store(),
                "random",
                spec.model_copy(update={"n_init": 40}),
                lengths,
                counts,
            )
        msgs.append(str(exc.value))
    assert msgs[0] == msgs[1] and "KV cache overflow" in msgs[0]


def test_a_stale_build_is_never_used(monkeypatch):
    """The compiled copy carries the hash of the sources it was built from; another hash: Python."""
    monkeypatch.setattr(engine, "core_source_hash", lambda: "0" * 64)
    monkeypatch.delenv("HELIX_SIM_CORE", raising=False)
    assert engine.compiled_core() is None
    assert engine.default_core() is py_loop
    monkeypatch.setenv("HELIX_SIM_CORE", "compiled")
    with pytest.raises(HelixRunError, match="missing or stale"):
        engine.default_core()


def test_core_switch(monkeypatch):
    monkeypatch.setenv("HELIX_SIM_CORE", "python")
    assert engine.default_core() is py_loop
    monkeypatch.setenv("HELIX_SIM_CORE", "fast")
    with pytest.raises(Exception, match="HELIX_SIM_CORE"):
        engine.default_core()
    monkeypatch.setenv("HELIX_SIM_CORE", "auto")
    assert engine.default_core() is (engine.compiled_core() or py_loop)
