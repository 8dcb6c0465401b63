"""Placement methods: exact Petals/Swarm, paper layouts, MILP backends, optimality on small10, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helix.artifact.sol_ini import format_sol_ini, read_sol_ini
from helix.cluster import SINK, SOURCE, Cluster, Link, Machine
from helix.errors import HelixInputError
from helix.layout import Layout
from helix.models import load_hf_config
from helix.placement.api import make_problem, run_placement
from helix.placement.base import PlacementProblem, available_methods, get_method
from helix.placement.bounds import layer_capacity_bound
from helix.placement.pruning import prune_cluster
from helix.placement.settings import PlacementPreset

from snakemake_cli import run_snakemake, snakemake_cmd

AE = "artifact_evaluation"
REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
CLUSTERS = {
    "single24": f"{AE}/single_cluster/config/cluster24.ini",
    "geo24": f"{AE}/distributed_clusters/config/3cluster24.ini",
    "hetero42": f"{AE}/high_heterogeneity/config/cluster42.ini",
    "small10": f"{AE}/ablation/config/cluster10.ini",
}
LAYOUTS_70B = {
    "single24": f"{AE}/single_cluster/layout_llama70b",
    "geo24": f"{AE}/distributed_clusters/layout_llama70b",
    "hetero42": f"{AE}/high_heterogeneity/layout_llama70b",
}


def _cluster(artifact_dir: Path, key: str) -> Cluster:
    from helix.artifact.cluster_ini import read_cluster_ini

    return read_cluster_ini(artifact_dir / CLUSTERS[key], key)


def _model(artifact_dir: Path, key: str):
    return load_hf_config(artifact_dir / f"{AE}/single_cluster/models/{key}/config.json", key)


def _problem(artifact_dir, cluster_key, model_key="llama70b", **preset) -> PlacementProblem:
    from helix.profiles.store import ProfileStore

    cluster = cluster_key if isinstance(cluster_key, Cluster) else _cluster(artifact_dir, cluster_key)
    name = cluster.name
    return make_problem(
        cluster,
        _model(artifact_dir, model_key),
        model_key,
        PlacementPreset(**preset),
        ProfileStore.from_artifact(artifact_dir),
        artifact_dir,
        name,
    )


def test_registry_lists_methods_and_rejects_unknown():
    assert {"helix", "petals", "swarm", "separate", "sp_plus"} <= set(available_methods())
    with pytest.raises(HelixInputError, match="unknown placement method") as exc:
        get_method("magic")
    assert "\n" not in str(exc.value)


def test_helix_variants_are_the_planner_under_a_mapped_preset():
    import re

    from helix.placement.settings import resolve_preset
    from helix.placement.workflow import HELIX_FAMILY_PATTERN, METHOD_PATTERN

    assert type(get_method("helix-nowarm")) is type(get_method("helix"))
    for name in ("helix", "helix-pruned", "helix-noprune", "helix-nowarm"):
        assert re.fullmatch(HELIX_FAMILY_PATTERN, name) and not re.fullmatch(METHOD_PATTERN, name)
    for name in ("paper-helix", "petals", "helix-No", "helix-a-b", "helixx"):
        assert not re.fullmatch(HELIX_FAMILY_PATTERN, name)
    presets = {"default": PlacementPreset(), "abl": PlacementPreset(prune=True)}
    assert resolve_preset(presets, {"helix-noprune": "abl"}, "geo24", "llama70b", "helix-noprune") == (
        "abl",
        presets["abl"],
    )
    with pytest.raises(HelixInputError, match="no preset mapped to 'helix-other'") as exc:
        resolve_preset(presets, {"helix-noprune": "abl"}, "geo24", "llama70b", "helix-other")
    assert "\n" not in str(exc.value)


def test_counted_budget_reruns_are_byte_identical(artifact_dir, tmp_path):
    """budget: evaluations stops the search and the MILP by counts: the same layout on every run,
    and milp_size.json holds the paper's per-machine sizes (Table 8) whatever was solved."""
    import json

    preset = dict(
        backend="portfolio",
        formulation="per_node",
        prune=True,
        budget="evaluations",
        max_evaluations=6000,
        lane_evaluations=2000,
        milp_max_nodes=20,
        time_limit_s=300,
    )
    for run in ("a", "b"):
        run_placement(_problem(artifact_dir, "geo24", **preset), "helix-pruned", tmp_path / run)
    assert (tmp_path / "a/layout.yaml").read_bytes() == (tmp_path / "b/layout.yaml").read_bytes()
    flows = [json.loads((tmp_path / run / "flow.json").read_text()) for run in ("a", "b")]
    assert flows[0]["max_flow"] == flows[1]["max_flow"] >= 616.46  # at least the Swarm start
    assert flows[0]["method"] == "helix-pruned" and flows[0]["notes"]["budget_hit"] == "evaluations"
    size = json.loads((tmp_path / "a/milp_size.json").read_text())
    assert (size["unpruned"]["rows"], size["unpruned"]["columns"]) == (1848, 1376)
    assert (size["pruned"]["rows"], size["pruned"]["columns"]) == (1122, 876)
    assert size["solved"] == "pruned" and size["rows"] >= 1122  # pruned plus the start's arcs
    # a timed run of the same preset still works (the benchmark's mode)
    timed = run_placement(
        _problem(artifact_dir, "geo24", **{**preset, "budget": "time", "time_limit_s": 3}),
        "helix",
        tmp_path / "c",
    )
    assert timed.notes["budget"] == "time" and timed.objective >= 616.46


@pytest.mark.parametrize("cluster_key", list(LAYOUTS_70B))
@pytest.mark.parametrize("method", ["petals", "swarm"])
def test_petals_and_swarm_equal_the_artifact_files(artifact_dir, cluster_key, method):
    problem = _problem(artifact_dir, cluster_key)
    result = get_method(method).place(problem)
    expected = read_sol_ini(
        artifact_dir / LAYOUTS_70B[cluster_key] / method / f"{method}_sol.ini", 80, problem.cluster
    )
    assert result.layout.ranges == expected.ranges
    # and byte-for-byte in the artifact's own format
    text = (artifact_dir / LAYOUTS_70B[cluster_key] / method / f"{method}_sol.ini").read_text()
    assert format_sol_ini(result.layout, problem.cluster).split() == text.split()


@pytest.mark.parametrize(
    "cluster_key,model_key,objective",
    [
        ("single24", "llama70b", 1289.56),
        ("geo24", "llama70b", 1212.18),
        ("hetero42", "llama70b", 4137.55),
        ("small10", "llama30b", 286.59),
        ("single24", "llama30b", 1044.53 + 214.98 + 397.69),
    ],
)
def test_paper_helix_objectives(artifact_dir, cluster_key, model_key, objective):
    result = get_method("paper-helix").place(_problem(artifact_dir, cluster_key, model_key))
    assert result.objective == pytest.approx(objective, abs=0.011)


@pytest.mark.parametrize(
    "cluster_key,name",
    [("geo24", "paper-helix-noprune"), ("hetero42", "paper-helix-noprune"), ("geo24", "paper-helix-sched")],
)
def test_paper_layouts_with_a_hyphen_are_placements(artifact_dir, cluster_key, name):
    """paper-helix-noprune (the ablation's unpruned MILP) and paper-helix-sched (the scheduler
    comparison's layout) pass the placement rule's method pattern and import the very solution file
    the simulator reads for them (helix.artifact.paper_layouts, shared)."""
    import re

    from helix.placement.workflow import METHOD_PATTERN, UNKNOWN_METHOD_PATTERN
    from helix.sim.paper import paper_files

    assert re.fullmatch(METHOD_PATTERN, name) and not re.fullmatch(UNKNOWN_METHOD_PATTERN, name + "/")
    problem = _problem(artifact_dir, cluster_key)
    result = get_method(name).place(problem)
    sol, _ = paper_files(artifact_dir, cluster_key, "llama70b", name)
    assert result.layout.ranges == read_sol_ini(sol, 80, problem.cluster).ranges
    assert result.method == name and result.objective == pytest.approx(problem.flow(result.layout)[1].value)
    assert sum(1 for r in result.layout.ranges.values() if r) == len(problem.cluster.machines)
    # the artifact has none for single24: one line
    with pytest.raises(HelixInputError, match="no such paper layout") as exc:
        get_method(name).place(_problem(artifact_dir, "single24"))
    assert "\n" not in str(exc.value)


@pytest.mark.slow
def test_snakemake_imports_a_paper_layout_with_a_hyphen(repo, artifact_dir, tmp_path):
    """A real run of rule placement for paper-helix-noprune (before: 'unknown placement method')."""
    import json
    import os

    from helix.sim.paper import paper_files

    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact_dir))
    target = "results/placements/geo24/llama70b/paper-helix-noprune/flow.json"
    run = run_snakemake(tmp_path, target, config=repo / "config/config.yaml", cores=2, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    base = tmp_path / "results/placements/geo24/llama70b/paper-helix-noprune"
    flow = json.loads((base / "flow.json").read_text())
    cluster = Cluster.load(tmp_path / "results/clusters/geo24.yaml")
    sol, _ = paper_files(artifact_dir, "geo24", "llama70b", "paper-helix-noprune")
    expected = read_sol_ini(sol, 80, cluster)
    assert Layout.load(base / "layout.yaml", cluster).ranges == expected.ranges
    assert flow["method"] == "paper-helix-noprune" and flow["max_flow"] > 0


def test_pruning_reproduces_the_paper_link_counts(artifact_dir):
    for key, compute in (("geo24", 163), ("hetero42", 426)):
        pruned = prune_cluster(_cluster(artifact_dir, key))
        src = sum(SOURCE in (l.a, l.b) for l in pruned.links)
        snk = sum(SINK in (l.a, l.b) for l in pruned.links)
        assert (src, snk, len(pruned.links) - src - snk) == (12, 12, compute)
    # 42-node: all links equal, so ties keep the coordinator links of nodes 30-41 only
    pruned = prune_cluster(_cluster(artifact_dir, "hetero42"))
    assert {l.b for l in pruned.links if l.a == SOURCE} == {f"n{i}" for i in range(30, 42)}
    # keeping the warm start's arcs: the swarm layout keeps a non-zero flow after pruning
    problem = _problem(artifact_dir, "hetero42")
    swarm = get_method("swarm").place(problem)
    assert problem.flow(swarm.layout, prune_cluster(problem.cluster))[1].value == 0.0
    keep = [(u, v) for u, v, _ in swarm.graph.arcs]
    kept = prune_cluster(problem.cluster, keep_arcs=keep)
    assert problem.flow(swarm.layout, kept)[1].value == pytest.approx(swarm.objective)


def test_milp_size_matches_the_authors_lp_files(artifact_dir):
    from helix.flow.graph import FlowContext
    from helix.placement.methods.helix import _arc_capacity_fn
    from helix.placement.milp.model import build_per_node

    for key, pruned, size in (
        ("single24", False, (1848, 1376)),
        ("geo24", True, (1122, 876)),
        ("hetero42", True, (2772, 2144)),
        ("hetero42", False, (5502, 4004)),
    ):
        problem = _problem(artifact_dir, key)
        cluster = prune_cluster(problem.cluster) if pruned else problem.cluster
        tables = [list(problem.table(i)) for i in range(cluster.n)]
        milp = build_per_node(
            cluster, tables, 80, _arc_capacity_fn(FlowContext.for_model(cluster, problem.model))
        )
        assert (milp.size()["rows"], milp.size()["cols"]) == size


def test_layer_capacity_bound_is_valid_and_tight_enough():
    # one machine holding half the model serves nothing; two halves serve the slower one's rate
    assert layer_capacity_bound([[10.0] * 4], 8) == 0.0
    assert layer_capacity_bound([[10.0] * 4, [20.0] * 4], 8) == pytest.approx(10.0, rel=1e-5)
    # one machine holding all 8 layers at 10 tok/s, plus a 1-layer machine at 40 tok/s: 8F <= 80 + min(40, F)
    assert layer_capacity_bound([[10.0] * 8, [40.0]], 8) == pytest.approx(80 / 7, rel=1e-5)


def test_milp_proves_small10_optimum_with_default_backend(artifact_dir):
    problem = _problem(artifact_dir, "small10", "llama30b", time_limit_s=60, heuristic_share=0.05)
    assert problem.settings.milp_backend == "highs"
    result = get_method("helix").place(problem)
    assert result.objective == pytest.approx(286.59, abs=0.01)
    assert result.notes["milp"]["status"] == "optimal"
    assert result.upper_bound - result.objective <= 0.0101
    assert result.trace[-1].source == "milp:highs:optimal"
    assert result.seconds < 60


@pytest.mark.parametrize("backend", ["highs", "cpsat", "gurobi", "heuristic", "portfolio"])
def test_every_backend_returns_a_feasible_layout_with_its_reported_flow(artifact_dir, backend):
    if backend == "gurobi":
        pytest.importorskip("gurobipy")
    problem = _problem(
        artifact_dir, "small10", "llama30b", backend=backend, time_limit_s=6, formulation="per_node"
    )
    result = get_method("helix").place(problem)
    problem.layout = result.layout.validate(problem.cluster)
    for name, rng in result.layout.used().items():
        assert rng[1] - rng[0] <= len(problem.tables[problem.cluster.machine(name).gpu])
    _, recomputed = problem.flow(result.layout)
    assert recomputed.value == pytest.approx(result.objective, abs=1e-6)
    assert result.objective >= 286.58  # the swarm warm start is already optimal here
    assert [r.objective for r in result.trace] == sorted(r.objective for r in result.trace)


def test_helix_beats_the_paper_on_single24_quickly(artifact_dir):
    problem = _problem(artifact_dir, "single24", backend="heuristic", time_limit_s=20)
    result = get_method("helix").place(problem)
    assert result.objective > 1289.56
    assert result.objective <= result.upper_bound


def test_separate_and_sp_plus_rules(artifact_dir):
    problem = _problem(artifact_dir, "single24")
    sep = get_method("separate").place(problem)
    paper = get_method("paper-separate").place(problem)
    assert sep.objective == pytest.approx(paper.objective)
    sizes = sorted(r[1] - r[0] for r in sep.layout.used().values())
    assert sizes == sorted([20] * 4 + [10] * 8 + [6] * 4 + [7] * 8)
    h42 = _problem(
        artifact_dir,
        "hetero42",
        separate_types=["A100", "L4", "L4x2", "T4x4"],
        sp_plus_mixed_types=["V100", "T4"],
    )
    spp = get_method("sp_plus").place(h42)
    mixed = spp.groups["hetero42-v100-t4"]
    assert len(mixed) == 16 and all(spp.layout.ranges[m][1] - spp.layout.ranges[m][0] == 5 for m in mixed)
    assert spp.objective == pytest.approx(get_method("paper-sp_plus").place(h42).objective, rel=1e-9)


def _toy_cluster(links: bool = True) -> Cluster:
    machines = [Machine(f"n{i}", g) for i, g in enumerate(["A100", "A100", "L4", "T4"])]
    ls = []
    if links:
        names = [m.name for m in machines]
        ls = [Link(SOURCE, n, 1e9, 1e-3) for n in names] + [Link(n, SINK, 1e9, 1e-3) for n in names]
        ls += [Link(a, b, 1e9, 1e-3) for i, a in enumerate(names) for b in names[i + 1 :]]
    return Cluster("toy", machines, ls)


def test_bad_inputs_are_one_line_errors(artifact_dir, tmp_path):
    # model does not fit: 12 + 12 + 7 + 4 = 35 < 80 layers
    toy = _problem(artifact_dir, _toy_cluster())
    with pytest.raises(HelixInputError, match="does not fit") as exc:
        get_method("helix").place(toy)
    assert "\n" not in str(exc.value)
    # no path from the coordinator: a cluster with enough memory but no links
    big = Cluster("nolinks", [Machine(f"n{i}", "A100") for i in range(8)], [])
    with pytest.raises(HelixInputError, match="no layout routes"):
        get_method("helix").place(_problem(artifact_dir, big, backend="heuristic", time_limit_s=1))
    # unknown backend
    from helix.placement.milp.backends import get_backend

    with pytest.raises(HelixInputError, match="unknown MILP backend"):
        get_backend("cplex")
    # a warm-start file that does not match the cluster
    bad = tmp_path / "bad_sol.ini"
    bad.write_text("[Settings]\noffset=2\n\n[Solution]\ncompute_node_40=[0, 1]\n")
    problem = _problem(artifact_dir, "small10", "llama30b", backend="heuristic", time_limit_s=1)
    problem.warm_start_file = bad
    with pytest.raises(HelixInputError, match="not in cluster small10"):
        get_method("helix").place(problem)
    # nothing was written for a failed run
    out = tmp_path / "out"
    with pytest.raises(HelixInputError):
        run_placement(toy, "helix", out)
    assert not out.exists() or not any(out.iterdir())


def test_gurobi_missing_or_too_large_is_one_line(artifact_dir, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_gurobi(name, *a, **k):
        if name.startswith("gurobipy"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_gurobi)
    problem = _problem(
        artifact_dir, "small10", "llama30b", backend="gurobi", time_limit_s=2, formulation="per_node"
    )
    with pytest.raises(HelixInputError, match="gurobipy is not installed") as exc:
        get_method("helix").place(problem)
    assert "\n" not in str(exc.value)


def test_sol_ini_round_trip_and_errors(artifact_dir, tmp_path):
    cluster = _cluster(artifact_dir, "single24")
    layout = read_sol_ini(artifact_dir / LAYOUTS_70B["single24"] / "ilp/ilp_sol.ini", 80, cluster)
    path = tmp_path / "x_sol.ini"
    path.write_text(format_sol_ini(layout, cluster))
    assert read_sol_ini(path, 80, cluster).ranges == layout.ranges
    path.write_text("[Settings]\noffset=2\n[Solution]\ncompute_node_2=[3, 5]\n")
    with pytest.raises(HelixInputError, match="contiguous"):
        read_sol_ini(path, 80, cluster)


def test_cli_place_writes_results_and_is_deterministic(artifact_dir, tmp_path):
    from helix.cli import main

    cluster = _cluster(artifact_dir, "small10")
    cluster.save(tmp_path / "small10.yaml")
    model_json = artifact_dir / f"{AE}/single_cluster/models/llama30b/config.json"
    args = [
        "place",
        "--config",
        str(REPO_CONFIG),
        "--cluster",
        str(tmp_path / "small10.yaml"),
        "--model",
        "llama30b",
        "--model-config",
        str(model_json),
        "--profiles",
        "artifact",
        "--method",
        "swarm",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for f in ("layout.yaml", "flow.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    import json

    flow = json.loads((tmp_path / "a" / "flow.json").read_text())
    assert flow["max_flow"] == pytest.approx(286.59, abs=0.01) and flow["method"] == "swarm"
    assert {"from", "to", "capacity", "flow"} <= set(flow["arcs"][0])
    assert main([*args[:-1], "nope", "--out", str(tmp_path / "c")]) == 2


def test_sigterm_writes_best_layout_and_exits_cleanly(artifact_dir, tmp_path):
    import json
    import signal
    import time

    cluster = _cluster(artifact_dir, "single24")
    cluster.save(tmp_path / "single24.yaml")
    model_json = artifact_dir / f"{AE}/single_cluster/models/llama70b/config.json"
    cmd = [
        sys.executable,
        "-m",
        "helix.cli",
        "place",
        "--config",
        str(REPO_CONFIG),
        "--cluster",
        str(tmp_path / "single24.yaml"),
        "--model",
        "llama70b",
        "--model-config",
        str(model_json),
        "--profiles",
        "artifact",
        "--backend",
        "heuristic",
        "--time-limit",
        "300",
        "--out",
        str(tmp_path / "out"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    flow = json.loads((tmp_path / "out" / "flow.json").read_text())
    assert flow["max_flow"] >= 757.85 and flow["notes"]["interrupted"] is True
    assert flow["seconds"] < 60


@pytest.mark.slow
def test_snakemake_placement_rule(repo, artifact_dir, tmp_path):
    import json
    import os

    env = dict(os.environ, HELIX_ARTIFACT_DIR=str(artifact_dir))
    targets = [f"results/placements/place12/llama70b/{m}/flow.json" for m in ("helix", "petals")]
    cmd = snakemake_cmd(tmp_path, *targets, config=repo / "config/test/config.yaml", cores=2)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    base = tmp_path / "results/placements/place12/llama70b"
    helix = json.loads((base / "helix/flow.json").read_text())
    petals = json.loads((base / "petals/flow.json").read_text())
    assert helix["max_flow"] >= petals["max_flow"] > 0 and helix["solver"].startswith("heuristic+")
    assert (base / "helix/solver_trace.csv").read_text().startswith("seconds,objective,bound,source")
    size = json.loads((base / "helix/milp_size.json").read_text())
    assert size["rows"] > 0 and size["unpruned"]["rows"] >= size["pruned"]["rows"] > 0
    layout = Layout.load(base / "helix/layout.yaml")
    assert layout.num_layers == 80
    dry = subprocess.run([*cmd, "-n"], env=env, capture_output=True, text=True, timeout=300)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    # the helix family declares its trace and MILP size: losing one reruns that placement only;
    # baselines write neither
    assert not (base / "petals/solver_trace.csv").exists() and not (base / "petals/milp_size.json").exists()
    first = (base / "helix/layout.yaml").read_bytes()
    (base / "helix/milp_size.json").unlink()
    again = subprocess.run(
        [*cmd, "results/placements/place12/llama70b/helix/milp_size.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and "placement_helix" in again.stdout + again.stderr
    assert "rule placement:" not in again.stdout + again.stderr
    # budget: evaluations in the test config: the rerun writes the same layout, byte for byte
    assert (base / "helix/layout.yaml").read_bytes() == first and (base / "helix/milp_size.json").is_file()


def test_model_file_written_on_request(artifact_dir, tmp_path):
    problem = _problem(
        artifact_dir,
        "small10",
        "llama30b",
        backend="highs",
        time_limit_s=2,
        formulation="per_node",
        write_model="lp",
    )
    problem.work_dir = tmp_path
    result = get_method("helix").place(problem)
    text = (tmp_path / "model.lp").read_text()
    assert "node_throughput_constraint_0" in text and "hold_0_1" in text
    assert result.milp_size["unpruned"]["rows"] == 350


def test_gurobi_size_limited_license_is_a_one_line_error(artifact_dir):
    pytest.importorskip("gurobipy")
    problem = _problem(artifact_dir, "hetero42", backend="gurobi", time_limit_s=2, formulation="per_node")
    try:
        result = get_method("helix").place(problem)
    except HelixInputError as exc:  # the pip license allows 2000 rows/columns; this model has 5502 x 4004
        assert "Gurobi cannot solve this model" in str(exc) and "\n" not in str(exc)
    else:  # a full license: then it must behave like every backend
        assert result.objective == pytest.approx(problem.flow(result.layout)[1].value)


def test_per_gpu_type_placement_sums_sub_clusters(artifact_dir, tmp_path):
    problem = _problem(
        artifact_dir, "single24", "llama30b", backend="heuristic", time_limit_s=1, per_gpu_type=True, seed=1
    )
    result = run_placement(problem, "helix", tmp_path)
    assert set(result.groups) == {"single24-a100", "single24-l4", "single24-t4"}
    # each sub-cluster is at least as good as the paper's per-type layout (1044.53 + 214.98 + 397.69)
    assert result.objective >= 1657.20 - 0.01
    assert (tmp_path / "solver_trace.csv").read_text().count("single24-t4:") >= 1


def test_helix_routes_a_cluster_where_petals_and_swarm_route_nothing(artifact_dir):
    """4 A100 + 2 L4 + 6 T4 hold LLaMA-2 70B in one chain, yet the Petals and Swarm warm starts
    route nothing there; the planner must still find a routable layout (the chain warm start)."""
    from helix.clusters.generators import fake_cluster
    from helix.clusters.spec import LinkDist
    from helix.placement.methods.helix import Planner

    cluster = fake_cluster(
        "chainable12", {"A100": 4, "L4": 2, "T4": 6}, seed=0, link=LinkDist(bandwidth=1e9, latency=0.001)
    )
    problem = _problem(
        artifact_dir, cluster, "llama70b", backend="heuristic", budget="evaluations", max_evaluations=500
    )
    planner = Planner(problem)
    warm = planner.warm_starts()
    assert planner.value(*warm["petals"]) == 0 and planner.value(*warm["swarm"]) == 0
    starts, sizes = warm["chain"]
    held = sorted((s, s + k) for s, k in zip(starts, sizes) if k)
    assert held[0][0] == 0 and all(a[1] == b[0] for a, b in zip(held, held[1:])) and held[-1][1] == 80
    result = get_method("helix").place(problem)
    assert result.flow.value > 0 and result.flow.value >= planner.value(starts, sizes) - 1e-6
