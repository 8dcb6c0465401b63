"""The simulator on tiny placements: invariants, determinism, every scheduler, bad input."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from helix.errors import HelixInputError
from helix.sim.engine import SimulationError
from helix.sim.run import prepare, simulate
from helix.sim.settings import WorkloadSpec

from test_sim_kit import L, chain, diamond, store, tiny_model, traces

SCHEDULERS = ["helix", "swarm", "random", "shortest_queue"]


@pytest.fixture(scope="module")
def env(artifact_dir):
    return tiny_model(), store(), traces()


def run(env, sched="helix", mode="offline", graph=None, **wl):
    model, st, (lengths, counts) = env
    sc, ranges = graph or diamond()
    defaults = {
        "offline": dict(warmup_s=5, duration_s=30, n_init=None if sched == "helix" else 12),
        "online": dict(rate_tps=300, duration_s=45),
    }[mode]
    spec = WorkloadSpec(mode=mode, **{**defaults, **wl})
    return simulate(model, sc, ranges, st, sched, spec, lengths, counts)


def _check_routes(out):
    finished = [q for q in out.result.queries if not q.rejected and q.route]
    assert finished
    for q in finished:
        layer = 0
        for link, dst, s, e in q.route[:-1]:
            assert s == layer and e > s, q.route
            layer = e
        assert layer == L and q.route[-1][1] == 1  # then the sink


@pytest.mark.parametrize("sched", SCHEDULERS)
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_every_scheduler_runs_and_keeps_invariants(env, sched, mode):
    out = run(env, sched, mode)
    m = out.metrics
    assert m["decode_throughput_tps"] > 0 and m["n_prompts"] > 0
    _check_routes(out)
    sim = out.sim
    for uid, nd in out.prepared.topo.nodes.items():
        assert 0 < sim.kv_peak[uid] <= nd.kv_capacity
    # decode latencies are per token, prompts include queueing: all positive
    assert m["decode_latency_s"]["p5"] > 0 and m["prompt_latency_s"]["p5"] > 0


def test_online_run_finishes_every_query(env):
    out = run(env, "helix", "online")
    qs = out.result.queries
    assert all(q.done == q.output for q in qs)
    # KV is all given back once every query is done
    assert all(v == 0 for v in out.sim.kv_used)


def test_offline_throughput_below_max_flow(env):
    out = run(env, "helix", "offline", duration_s=60)
    assert out.max_flow and out.max_flow > 0
    assert out.metrics["decode_throughput_tps"] <= out.max_flow


def test_same_seed_same_output_other_seed_differs(env):
    a = run(env, "swarm", "online", seed=3)
    b = run(env, "swarm", "online", seed=3)
    c = run(env, "swarm", "online", seed=4)
    assert a.metrics == b.metrics
    assert bytes(a.result.decode) == bytes(b.result.decode)
    assert bytes(a.result.decode) != bytes(c.result.decode)


def test_random_scheduler_on_a_chain_draws_nothing(env):
    model, st, (lengths, counts) = env
    sc, ranges = chain()
    out = run(env, "random", "offline", graph=(sc, ranges), seed=0, n_init=4)
    # the only draws are the 4 + replacements' lengths: replaying them gives the RNG's state
    n_queries = len(out.result.queries)
    rng = random.Random(0)
    for _ in range(n_queries):
        rng.randint(0, len(lengths[0]) - 1)
    assert out.sim.sampler.rng.getstate() == rng.getstate()


@pytest.mark.parametrize("sched", ["random", "swarm", "shortest_queue"])
def test_chain_fast_path_equals_hop_by_hop(env, sched):
    """On a chain the hop-by-hop schedulers run as fixed FIFO links: same numbers either way."""
    model, st, (lengths, counts) = env
    spec = WorkloadSpec(mode="online", rate_tps=300, duration_s=60)
    fast = simulate(model, *chain(), st, sched, spec, lengths, counts)
    slow = simulate(
        model, *chain(), st, sched, spec, lengths, counts, scheduler_options={"fast_chain": False}
    )
    assert bytes(fast.result.decode) == bytes(slow.result.decode)
    assert bytes(fast.result.prompt) == bytes(slow.result.prompt)
    assert fast.result.events < slow.result.events


def test_decode_count_is_output_length(env):
    out = run(env, "random", "online", graph=chain())
    q = out.result.queries[0]
    assert q.done == q.output
    d = np.frombuffer(out.result.decode, dtype=np.float64).reshape(-1, 2)
    assert len(d) == sum(q.output for q in out.result.queries)


# ---- bad input -------------------------------------------------------------------------------
def test_layout_naming_a_node_the_graph_lacks(env):
    sc, ranges = diamond()
    with pytest.raises(HelixInputError, match="n9"):
        prepare(env[0], sc, {**ranges, "n9": (0, 4)}, env[1])


def test_layout_without_complete_route(env):
    with pytest.raises(HelixInputError, match="complete route"):
        prepare(env[0], *diamond(drop_sink=True), env[1])


def test_link_that_skips_layers(env):
    sc, ranges = diamond()
    with pytest.raises(HelixInputError, match="continue"):
        prepare(env[0], sc, {**ranges, "n4": (5, 8)}, env[1])


def test_gpu_type_without_profile(env):
    sc, ranges = diamond()
    sc.nodes[0] = sc.nodes[0].__class__(**{**sc.nodes[0].__dict__, "machine_type": "H999"})
    with pytest.raises(HelixInputError, match="machine_type"):
        prepare(env[0], sc, ranges, env[1])


def test_too_many_layers_without_force(env):
    sc, ranges = diamond()
    model = env[0].__class__(**{**env[0].__dict__, "num_layers": 16})
    with pytest.raises(HelixInputError, match="force"):
        prepare(model, sc, {"n2": (0, 8), "n3": (0, 8), "n4": (8, 16), "n5": (8, 16)}, env[1])


def test_kv_cache_too_small_for_one_request(env):
    with pytest.raises(HelixInputError, match="kv_cache_capacity"):
        run(env, "random", "offline", graph=diamond(kv={"n4": 20}))


def test_kv_overflow_is_reported(env):
    # room for a few requests only: the closed loop with 40 in flight overflows it
    with pytest.raises(SimulationError, match="overflow"):
        run(env, "random", "offline", graph=diamond(kv={"n4": 4 * 3000, "n5": 4 * 3000}), n_init=40)


def test_zero_requests(env):
    with pytest.raises(HelixInputError, match="zero requests"):
        run(env, "random", "online", rate_tps=0.001, duration_s=6)


@pytest.mark.parametrize(
    "field,value", [("rate_tps", -5.0), ("duration_s", -1.0), ("duration_s", 0.0), ("n_init", 0)]
)
def test_negative_rate_or_duration_rejected_by_settings(field, value):
    with pytest.raises(ValidationError):
        WorkloadSpec(mode="online" if field == "rate_tps" else "offline", **{field: value})


def test_online_needs_a_rate():
    with pytest.raises(ValidationError, match="rate"):
        WorkloadSpec(mode="online")


def test_non_helix_offline_needs_concurrency(env):
    with pytest.raises(HelixInputError, match="n_init"):
        run(env, "swarm", "offline", n_init=None)


def test_model_without_profile(env):
    import dataclasses

    model = dataclasses.replace(env[0], name="mistral7b")
    with pytest.raises(HelixInputError, match="machine_type"):
        prepare(model, *diamond(), env[1])


def _cli_simulate_t4_chain(out: Path, mode: str, *extra: str, timeout: float):
    """`helix simulate` of the paper's 70B T4 chain (single24-t4, paper-separate, random) into ``out``."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "helix.cli", "simulate", "--cluster", "single24-t4", "--model", "llama70b"]
    cmd += ["--method", "paper-separate", "--scheduler", "random", "--mode", mode, "--out", str(out)]
    return subprocess.run(
        [*cmd, "--quiet", *extra],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=timeout,
    )


@pytest.mark.parametrize("extra", [["--rate", "-3"], ["--duration", "0"]])
def test_cli_bad_input_one_line_no_output(tmp_path, artifact_dir, extra):
    out = tmp_path / "out"
    r = _cli_simulate_t4_chain(out, "online", *extra, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "workload" in r.stderr
    assert not out.exists()


def test_kv_overflow_is_a_run_error_one_line_exit_3(tmp_path, artifact_dir):
    """A simulated KV overflow is not bad input (HelixRunError), but reads like it: one line, exit 3."""
    from helix.errors import HelixRunError

    assert issubclass(SimulationError, HelixRunError) and not issubclass(SimulationError, HelixInputError)
    out = tmp_path / "out"
    # the paper's 70B T4 chain ran 3 queries at a time; 60 overflow its hand-set KV within seconds
    extra = ["--n-init", "60", "--duration", "20", "--profiles", "artifact"]
    r = _cli_simulate_t4_chain(out, "offline", *extra, timeout=300)
    assert r.returncode == 3, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "KV cache overflow" in r.stderr
    assert not out.exists()
