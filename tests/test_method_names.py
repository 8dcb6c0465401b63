"""Method names (helix.placement.names): what a paper layout is, and which simulation path a run takes.

``paper-<m>`` runs on the artifact's placement graph (the reproduction tables' path);
``paper-<m>@graph`` runs the same layout through our own-layout path (helix.sim.graph), the path of
every layout our planners make, so "paper vs ours" figures compare layouts on one path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helix.placement.names import (
    base_method,
    is_paper,
    layout_method,
    on_graph_path,
    paper_method,
    paper_name,
    reads_artifact_graph,
)

REPO = Path(__file__).resolve().parents[1]
NAMES = st.from_regex(r"[a-z][a-z_]{0,8}(-[a-z0-9]{1,8})?", fullmatch=True)


@given(NAMES)
def test_paper_names_round_trip_on_both_paths(method):
    name = paper_name(method)
    assert paper_method(name) == method and is_paper(name) and reads_artifact_graph(name)
    own = on_graph_path(name)
    assert own != name and layout_method(own) == name and paper_method(own) == method
    assert is_paper(own) and not reads_artifact_graph(own)
    assert on_graph_path(own) == own


@given(NAMES)
def test_our_methods_are_not_paper_layouts(method):
    if method.startswith("paper"):
        return
    assert not is_paper(method) and not reads_artifact_graph(method) and on_graph_path(method) == method


@pytest.mark.parametrize(
    "name, base",
    [
        ("paper-petals@graph", "petals"),
        ("paper-helix-noprune", "helix"),
        ("helix-pruned", "helix"),
        ("sp_plus", "sp_plus"),
        ("paper-separate", "separate"),
    ],
)
def test_base_method(name, base):
    assert base_method(name) == base


def test_a_graph_run_is_not_a_placement_method():
    from helix.errors import HelixInputError
    from helix.placement.base import get_method
    from helix.sim.experiments import check_method

    assert get_method("paper-helix").variant == "helix"
    with pytest.raises(HelixInputError):
        get_method("paper-helix@graph")  # no placement rule makes it: its layout is paper-helix's
    check_method("paper-helix@graph", "test", "method")  # a valid simulation name


def test_paper_layout_on_the_graph_path_reads_the_solution_file_and_our_cluster(artifact_dir, tmp_path):
    """The simulate rule's inputs and the pipeline: paper-helix@graph is the artifact's solution
    file on our cluster YAML through helix.sim.graph (machine names n<i>), with exactly the metrics
    of simulating that layout through graph_from_layout by hand; paper-helix reads the artifact's
    graph (node names compute_node_<i>)."""
    from helix.artifact.sol_ini import read_sol_ini
    from helix.artifact.source import ArtifactSource
    from helix.artifact.traces import import_traces, load_lengths
    from helix.clusters.build import build_cluster
    from helix.config import load_config
    from helix.profiles.entry import model_profiles
    from helix.profiles.store import ProfileStore
    from helix.sim.graph import graph_from_layout
    from helix.sim.pipeline import load_model, paper_inputs, run_entry
    from helix.sim.run import simulate
    from helix.sim.settings import WorkloadSpec
    from helix.sim.workflow import SimWorkflow

    cfg = load_config(REPO / "config" / "config.yaml")
    gpus = {k: v.model_dump(mode="json") for k, v in cfg.gpus.items()}
    cluster = build_cluster("geo24", cfg.clusters["geo24"], gpus, None, artifact_dir=artifact_dir)
    cyaml = tmp_path / "geo24.yaml"
    cluster.save(cyaml)
    wl = {"mode": "offline", "warmup_s": 10, "duration_s": 40}
    entries = {
        m: {
            "cluster": "geo24",
            "model": "llama70b",
            "method": m,
            "scheduler": "helix",
            "mode": "offline",
            "workload": wl,
            "parent": None,
            "part": None,
            "parts": None,
        }
        for m in ("paper-helix", "paper-helix@graph")
    }
    sol, graph = paper_inputs(artifact_dir, entries["paper-helix"])

    flow = SimWorkflow(cfg, ArtifactSource.at(artifact_dir))
    flow.entry = lambda w: entries[w.method]
    inputs = {m: flow.inputs(type("W", (), {"method": m})) for m in entries}
    assert inputs["paper-helix"]["layout"] == [str(sol), str(graph)]
    assert inputs["paper-helix@graph"]["layout"] == [str(sol), "results/clusters/geo24.yaml"]

    traces = import_traces(artifact_dir, tmp_path)
    m = cfg.models["llama70b"]
    model_json = cfg.resolve_model_path("llama70b")
    store = ProfileStore.from_artifact(artifact_dir)
    kw = dict(
        model_json=model_json,
        param_bytes_per_layer=m.param_bytes_per_layer,
        lengths=traces["lengths"],
        arrivals=traces["arrivals"],
        profiles=store,
        artifact=artifact_dir,
        cluster=cyaml,
        gpus=gpus,
    )
    ours = run_entry(entries["paper-helix@graph"], **kw)
    theirs = run_entry(entries["paper-helix"], **kw)
    assert set(ours.prepared.names.values()) <= {mc.name for mc in cluster.machines}
    assert all(n.startswith("compute_node_") for n in theirs.prepared.names.values())

    model = load_model("llama70b", model_json, m.param_bytes_per_layer)
    mp = model_profiles(model, gpus, store)
    lay = read_sol_ini(sol, model.num_layers, cluster)
    inp, out = load_lengths(traces["lengths"])
    by_hand = simulate(
        model,
        graph_from_layout(cluster, lay, mp, gpus),
        dict(lay.used()),
        mp,
        "helix",
        WorkloadSpec.model_validate(wl),
        (inp.tolist(), out.tolist()),
    )
    assert ours.metrics == by_hand.metrics
    assert ours.max_flow == pytest.approx(theirs.max_flow, rel=1e-9)  # the same layout: the same max flow


def test_an_authors_layout_with_zero_max_flow_is_imported_as_it_is(artifact_dir, tmp_path):
    """geo24 paper-petals routes only through overlapping ranges (partial inference, which our flow
    graph leaves out): its max-flow is 0, yet Fig. 9b simulates it on the artifact's graph, so the
    placement writes it as the authors made it instead of refusing it like a layout of ours."""
    import json
    import os

    from helix.cli import main

    os.environ.setdefault("HELIX_ARTIFACT_DIR", str(artifact_dir))
    out = tmp_path / "pp"
    args = [
        "place",
        "--cluster",
        "geo24",
        "--model",
        "llama70b",
        "--method",
        "paper-petals",
        "--profiles",
        "artifact",
        "--out",
        str(out),
    ]
    assert main(args) in (0, None)
    flow = json.loads((out / "flow.json").read_text())
    assert flow["max_flow"] == 0.0
    import yaml

    layers = yaml.safe_load((out / "layout.yaml").read_text())["layers"]
    assert len(layers) == 24 and all(0 <= a < b <= 80 for a, b in layers.values())
