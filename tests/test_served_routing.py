"""The served estimate's scheduler routing (``ServedModel(routing="scheduler")``) against the simulator.

Max flows are not unique and the helix scheduler splits requests by the one its own solver finds,
so with ``routing="scheduler"`` the estimate builds the simulator's placement graph of a layout and
asks the scheduler for its flows and per-link bandwidths. The oracle here is the simulator itself:
a short simulation of the same layout, whose scheduler's flows must be the estimate's, link by
link, on every layout the validation rule would use on a small two-region cluster.
"""

from __future__ import annotations

import pytest

from two_regions import GPUS, two_regions
from helix.models import load_hf_config
from helix.placement.api import make_problem
from helix.placement.settings import PlacementPreset

AE = "artifact_evaluation"


@pytest.fixture(scope="module")
def problem(artifact_dir):
    from helix.profiles.entry import model_profiles
    from helix.profiles.store import ProfileStore

    model = load_hf_config(artifact_dir / f"{AE}/single_cluster/models/llama30b/config.json", "llama30b")
    profiles = model_profiles(model, GPUS, ProfileStore.from_artifact(artifact_dir), source="test gpus")
    return make_problem(
        two_regions(), model, "llama30b", PlacementPreset(), profiles, artifact_dir, "two-regions"
    )


def _simulated_flows(problem, layout, lengths) -> dict[tuple[str, str], float]:
    from helix.sim.graph import graph_from_layout
    from helix.sim.run import simulate
    from helix.sim.settings import WorkloadSpec

    sc = graph_from_layout(problem.cluster, layout, problem.profiles, GPUS)
    wl = WorkloadSpec(mode="offline", duration_s=1.0, warmup_s=0.0)
    out = simulate(problem.model, sc, dict(layout.used()), problem.profiles, "helix", wl, lengths)
    topo = out.prepared.topo

    def name(u):
        return "source" if u == 0 else "sink" if u == 1 else topo.nodes[u].name

    return {(name(l.src), name(l.dst)): out.sim.sched.flows[l.uid] for l in topo.links}


def test_scheduler_routing_is_the_simulators(problem):
    from helix.errors import HelixInputError
    from helix.placement.served import ServedModel
    from helix.planning.validation import _vectors, candidate_layouts

    cl = problem.cluster
    tables = [problem.table(i) for i in range(cl.n)]
    sm = ServedModel(cl, problem.model, tables, problem.profiles, "llama30b", routing="scheduler")
    fast = ServedModel(cl, problem.model, tables, problem.profiles, "llama30b")
    lengths = ([700, 300, 1200, 50] * 5, [200, 40, 400, 10] * 5)
    layouts = candidate_layouts(problem, None, {}, seed=0)
    assert len(layouts) >= 4
    compared = 0
    for name, _, layout in layouts:
        st, sz = _vectors(cl, layout)
        if any(k > len(tables[i]) for i, k in enumerate(sz)):
            continue  # more than K layers (separate pipelines): the validation skips it too
        arcs, flows, bw = sm._scheduler_flows(st, sz)
        mine = {
            ("source" if a == -1 else cl.machines[a].name, "sink" if b == -2 else cl.machines[b].name): f
            for (a, b), f in zip(arcs, flows)
        }
        try:
            theirs = _simulated_flows(problem, layout, lengths)
        except HelixInputError as exc:  # the simulator's graph has no route: the estimate says so
            assert "no complete route" in exc.one_line()
            e = sm.estimate(st, sz)
            assert e.throughput == 0.0 and e.reason
            continue
        assert mine.keys() == theirs.keys(), name
        for key, f in theirs.items():
            assert mine[key] == pytest.approx(f, rel=1e-9, abs=1e-9), (name, key)
        assert all(b > 0 for b in bw)
        e, ef = sm.estimate(st, sz), fast.estimate(st, sz)
        assert e.throughput > 0 and e.max_flow == pytest.approx(ef.max_flow)
        compared += 1
    assert compared >= 3


def test_unknown_routing_is_one_line(problem):
    from helix.errors import HelixInputError
    from helix.placement.served import ServedModel

    cl = problem.cluster
    with pytest.raises(HelixInputError) as exc:
        ServedModel(
            cl, problem.model, [problem.table(i) for i in range(cl.n)], problem.profiles, routing="nope"
        )
    assert "routing" in exc.value.one_line()
