"""Figures and tables drawn from small metric files made here; plotted numbers read back.

Each test builds a figure from the catalogue's real spec, writes fabricated inputs with known
values, and checks the matplotlib artists (bar heights, box percentiles, marker positions,
placement bars, trace lines) or the CSV against those inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from test_figures_fixtures import fake_layout_and_flow, fake_metrics, write_inputs

from helix.errors import HelixInputError
from helix.figures import build_figure, build_table, catalog, data, render, style
from helix.figures.catalog import TABLE8_METHOD, Context, build_catalog, spec_inputs


@pytest.fixture
def specs():
    """The catalogue with no prototype runs and no paper logs: prototype bars are printed values."""
    return build_catalog(Context(exists=lambda p: False, artifact_dir=None, parser_available=False))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _artists_by_gid(fig, prefix=""):
    out = {}
    for ax in fig.axes:
        for a in ax.get_children():
            gid = a.get_gid()
            if gid and gid.startswith(prefix):
                out[gid] = a
    return out


def test_fig5a_bars_show_the_metric_files_and_paper_values(specs, workdir):
    spec = specs["fig5a"]
    inputs = spec_inputs(spec)
    assert inputs == sorted(
        f"results/sims/single24/llama30b/paper-{m}/{s}/offline/metrics.json"
        for m, s in (("helix", "helix"), ("swarm", "swarm"), ("separate", "random"))
    )
    write_inputs(workdir, inputs)
    fig = build_figure(spec)
    bars = _artists_by_gid(fig)
    for method, sched in (("helix", "helix"), ("swarm", "swarm"), ("separate", "random")):
        path = f"results/sims/single24/llama30b/paper-{method}/{sched}/offline/metrics.json"
        expected = json.loads((workdir / path).read_text())["decode_throughput_tps"]
        assert bars[f"Simulation|{method}"].get_height() == pytest.approx(expected)
        assert bars[f"Simulation|{method}"].get_facecolor()[:3] == pytest.approx(
            plt.matplotlib.colors.to_rgb(style.METHOD_COLORS[method])
        )
    # paper markers at the printed simulation values (expected-single-cluster.json)
    for method, value in (("helix", 339.6), ("swarm", 151.6), ("separate", 309.0)):
        assert bars[f"paper|Simulation|{method}"].get_ydata()[0] == pytest.approx(value)
    # prototype bars: the paper's printed values, sub-clusters summed (198.9 + 64.8 + 57.5)
    assert bars["Prototype|helix"].get_height() == pytest.approx(321.2)
    assert bars["Prototype|swarm"].get_height() == pytest.approx(142.9)
    assert bars["Prototype|separate"].get_height() == pytest.approx(187.3 + 58.6 + 49.2)
    assert fig.axes[0].get_ylabel() == "Decode throughput (tokens/s)"
    plt.close(fig)


def test_fig5e_boxes_are_the_percentiles(specs, workdir):
    spec = specs["fig5e"]
    write_inputs(workdir, spec_inputs(spec))
    fig = build_figure(spec)
    ax = fig.axes[0]
    medians = _artists_by_gid(fig)
    m = fake_metrics("results/sims/single24/llama30b/paper-swarm/swarm/online/metrics.json")[
        "prompt_latency_s"
    ]
    line = medians["Simulation|swarm"]
    assert line.get_ydata()[0] == pytest.approx(m["p50"])
    # whiskers of that box end at p5 and p95
    x = np.mean(line.get_xdata())
    ends = sorted(
        y
        for l in ax.lines
        if len(l.get_xdata()) == 2 and np.allclose(l.get_xdata(), x) and l.get_ydata()[0] != l.get_ydata()[1]
        for y in l.get_ydata()
    )
    assert ends[0] == pytest.approx(m["p5"]) and ends[-1] == pytest.approx(m["p95"])
    # paper's printed median for Swarm 30B online prompt latency: 1.42 s
    assert medians["paper|Simulation|swarm"].get_ydata()[0] == pytest.approx(1.42)
    assert ax.get_ylabel() == "Prompt latency (s)"
    plt.close(fig)


def test_table8_reads_milp_sizes(specs, workdir):
    spec = specs["table8"]
    write_inputs(workdir, spec_inputs(spec))
    render(spec, ["results/tables/table8.csv"])
    df = pd.read_csv(workdir / "results/tables/table8.csv")
    assert len(df) == 4
    for r in df.itertuples():
        path = f"results/placements/{r.cluster}/llama70b/{TABLE8_METHOD}/milp_size.json"
        doc = json.loads((workdir / path).read_text())
        size = doc["pruned" if r.pruned else "unpruned"]
        # the per-machine model's size, never the top-level (solved: aggregated) one
        assert (r.rows, r.columns, r.nonzeros) == (size["rows"], size["columns"], size["nonzeros"])
        assert (r.rows, r.columns) != (doc["rows"], doc["columns"]) and r.solved == "aggregated"
    geo_pruned = df[(df.cluster == "geo24") & df.pruned].iloc[0]
    assert (geo_pruned.paper_columns, geo_pruned.paper_rows) == (876, 1122)
    assert geo_pruned.rel_diff_rows == pytest.approx((geo_pruned.rows - 1122) / 1122, rel=1e-4)
    h42 = df[(df.cluster == "hetero42") & ~df.pruned].iloc[0]
    assert (h42.paper_columns, h42.paper_rows) == (4004, 5502)


def test_reproduction_table_compares_with_the_paper(specs, workdir):
    spec = specs["reproduction"]
    write_inputs(workdir, spec_inputs(spec))
    df = build_table(spec)
    row = df[(df.model == "llama70b") & (df.method == "paper-swarm") & (df["mode"] == "online")]
    thr = row[row.metric == "decode_throughput_tps"].iloc[0]
    ours = fake_metrics("results/sims/single24/llama70b/paper-swarm/swarm/online/metrics.json")[
        "decode_throughput_tps"
    ]
    assert thr.paper == 69.8 and thr.ours == pytest.approx(ours)
    assert thr.rel_diff == pytest.approx((ours - 69.8) / 69.8, rel=1e-5)
    p95 = row[row.metric == "decode_latency_s.p95"].iloc[0]
    assert p95.paper == 2.51
    # every printed 6.3 simulation number appears once: 12 throughputs + 6 online rows x 10 percentiles
    sims = df[(df.source == "sim") & (df.cluster == "single24")]
    assert len(sims) == 12 + 6 * 10
    assert df[df.metric == "max_flow"].paper.tolist() == [1289.56, 1212.18, 4137.55]


def test_fig9b_placement_picture_matches_layout_and_flow(specs, workdir):
    spec = specs["fig9b"]
    write_inputs(workdir, spec_inputs(spec))
    fig = build_figure(spec)
    bars = _artists_by_gid(fig)
    layout, flow = fake_layout_and_flow(str(workdir / "results/placements/geo24/llama70b/paper-helix"))
    cmap = plt.get_cmap("viridis_r")
    for name, (s, e) in layout.ranges.items():
        bar = bars[f"helix|{name}"]
        assert (bar.get_x(), bar.get_width()) == (s, e - s)
        frac = flow["nodes"][name]["flow"] / flow["nodes"][name]["capacity"]
        assert bar.get_facecolor() == pytest.approx(cmap(frac))
    assert "n23|" not in " ".join(bars)  # machines without layers draw no bar ...
    assert len([g for g in bars if g.startswith("helix|")]) == 24  # ... and this layout uses all 24
    plt.close(fig)


def test_fig10b_congestion_bars(specs, workdir):
    spec = specs["fig10b"]
    write_inputs(workdir, spec_inputs(spec))
    fig = build_figure(spec)
    bars = _artists_by_gid(fig)
    for s in spec["series"]:
        df = pd.read_csv(workdir / s["path"])
        machines = df[df.kind == "machine"]
        for r in machines.itertuples():
            assert bars[f"{s['method']}|{r.name}"].get_height() == pytest.approx(r.mean_queue_delay_s)
        assert not any(g.endswith("|n0-n1") for g in bars)  # link rows are not machines
    plt.close(fig)


def test_fig12_solver_trace_on_log_time(specs, workdir):
    spec = specs["fig12"]
    write_inputs(workdir, spec_inputs(spec))
    fig = build_figure(spec)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    trace = pd.read_csv(workdir / spec["panels"][0]["series"][0]["path"])
    line = _artists_by_gid(fig)["objective|helix"]
    assert line.get_ydata() == pytest.approx(trace.objective.to_numpy())
    assert line.get_xdata()[1:] == pytest.approx(trace.seconds.to_numpy()[1:])
    assert any(l.get_ydata()[0] == pytest.approx(286.59) for l in ax.lines if l.get_linestyle() == ":")
    plt.close(fig)


def test_render_is_byte_identical(specs, workdir):
    spec = specs["fig5a"]
    write_inputs(workdir, spec_inputs(spec))
    outs = ["a/f.pdf", "a/f.png"]
    render(spec, outs)
    first = [(workdir / o).read_bytes() for o in outs]
    render(spec, outs)
    assert [(workdir / o).read_bytes() for o in outs] == first


def test_bad_metrics_file_is_one_line(specs, workdir):
    spec = specs["fig5a"]
    write_inputs(workdir, spec_inputs(spec))
    bad = workdir / spec_inputs(spec)[0]
    bad.write_text(json.dumps({"prompt_latency_s": None}))
    with pytest.raises(HelixInputError, match=r"metrics.json: decode_throughput_tps: missing"):
        render(spec, ["x.pdf", "x.png"])
    assert not (workdir / "x.pdf").exists()
    bad.write_text(json.dumps({"decode_throughput_tps": "fast"}))
    with pytest.raises(HelixInputError, match="must be a number"):
        data.load_metrics(bad)


def test_prototype_source_preference(tmp_path):
    """Our run beats the paper's log, which beats the printed value (and is labelled so)."""
    logs = tmp_path / "artifact_evaluation/single_cluster/real_llama70b/swarm_online"
    logs.mkdir(parents=True)
    (logs / "events.txt").write_text("")
    ours = catalog.proto_path("single24", "llama70b", "paper-swarm", "swarm", "online")
    ctx = Context(
        exists=lambda p: p == ours or p.startswith(str(tmp_path)),
        artifact_dir=tmp_path,
        parser_available=True,
    )
    assert catalog.proto_item(ctx, "single24", "llama70b", "swarm", "online")["source"] == "proto"
    ctx.exists = lambda p: p.startswith(str(tmp_path))
    item = catalog.proto_item(ctx, "single24", "llama70b", "swarm", "online")
    assert item["source"] == "paper-log" and item["warmup_s"] == 200 and item["paper"] == 81.1
    assert item["logs"] == [str(logs / "events.txt")]
    ctx.parser_available = False
    assert catalog.proto_item(ctx, "single24", "llama70b", "swarm", "online")["source"] == "paper-printed"


def test_every_figure_renders(specs, workdir):
    """Every catalogue entry draws from fabricated inputs, with labelled axes."""
    write_inputs(workdir, sorted({p for s in specs.values() for p in spec_inputs(s)}))
    for name in catalog.FIGURE_NAMES:
        fig = build_figure(specs[name])
        fig = getattr(fig, "figure", fig)  # a figure with its table (served_throughput, custom_runs)
        assert fig.axes[0].get_ylabel(), f"{name}: y axis without label"
        assert all(
            ax.get_xlabel() or ax.get_xticklabels() for ax in fig.axes if ax.get_label() != "<colorbar>"
        ), name
        plt.close(fig)


def test_paper_values_match_the_shared_expected_file(repo):
    """paper_values.yaml is a transcription of expected-single-cluster.json: check it is faithful."""
    expected = repo.parent / "shared" / "docs" / "expected-single-cluster.json"
    if not expected.is_file():
        pytest.skip("shared docs not present")
    for row in json.loads(expected.read_text()):
        cmd = row["commands"][0].split()
        if "step3" in cmd[1]:
            ours = data.paper_sim(
                "single24", row["model"], cmd[2], catalog.PAPER_SCHEDULER[cmd[2]], row["mode"]
            )
            assert ours["decode_throughput_tps"] == row["decode_throughput"]
        else:
            method, _, part = cmd[2].partition("_")
            ours = data.paper_proto(
                "single24", cmd[3], method, catalog.PAPER_SCHEDULER[method], cmd[4], part or None
            )
            if part or "decode_throughput" in row:
                assert ours.get("decode_throughput_tps") == row.get("decode_throughput")
        if "prompt_p" in row:
            assert {str(k): v for k, v in ours["prompt_p"].items()} == row["prompt_p"]
            assert {str(k): v for k, v in ours["decode_p"].items()} == row["decode_p"]


def test_rule_all_asks_only_for_configured_figures():
    from helix.figures.workflow import FigureWorkflow, figure_files, figure_group

    w = FigureWorkflow(None)
    paper = w.configured(catalog.DEFAULT_TARGETS, {"single24", "geo24", "hetero42"}, {"llama30b", "llama70b"})
    assert "fig5a" in paper and "reproduction" in paper and "fig12" not in paper
    assert w.configured(catalog.DEFAULT_TARGETS, {"single24"}, {"llama30b", "llama70b"}) == [
        f"fig5{p}" for p in "abcdefgh"
    ]
    assert w.configured(catalog.DEFAULT_TARGETS, {"tiny4"}, {"llama70b"}) == []
    assert figure_group("fig10") == figure_files(["fig10a", "fig10b"])
    assert figure_files(["table8"]) == ["results/tables/table8.csv"]


def test_every_simulation_a_figure_reads_is_configured(repo, specs):
    """The figures' sim inputs are runs the paper config's experiments define (no orphan paths)."""
    from helix.config.schema import load_config
    from helix.sim.experiments import metrics_targets

    configured = set(metrics_targets(load_config(repo / "config" / "config.yaml")))
    wanted = {
        str(Path(p).with_name("metrics.json"))  # congestion.csv is written by the same run
        for name in catalog.DEFAULT_TARGETS
        for p in spec_inputs(specs[name])
        if p.startswith("results/sims/")
    }
    assert wanted and not (wanted - configured), sorted(wanted - configured)


def test_ablation_figures_read_declared_placement_outputs(specs):
    """Fig. 11b and Table 8 read the helix family's declared solver_trace.csv / milp_size.json
    directly; Fig. 11a shows the authors' and our layouts with and without pruning, every one
    through our own-layout path (the authors' as paper-<m>@graph), and says so in its title."""
    import re

    from helix.placement.names import reads_artifact_graph
    from helix.placement.workflow import HELIX_FAMILY_PATTERN

    for name, file in (("fig11b", "solver_trace.csv"), ("table8", "milp_size.json")):
        paths = spec_inputs(specs[name])
        assert paths and all(Path(p).name == file for p in paths)
        assert all(re.fullmatch(HELIX_FAMILY_PATTERN, Path(p).parent.name) for p in paths)
    runs = {tuple(i["run"][:3]) for g in specs["fig11a"]["groups"] for i in g["items"]}
    for cluster in ("geo24", "hetero42"):
        for method in ("paper-helix@graph", "paper-helix-noprune@graph", "helix-pruned", "helix-noprune"):
            assert (cluster, "llama70b", method) in runs
    assert not any(reads_artifact_graph(r[2]) for r in runs)
    assert "through our layout path" in specs["fig11a"]["title"]


def test_one_record_per_figure_drives_rules_gallery_and_report(repo, specs):
    """Each figure's record names a registered builder (= its spec's kind), a caption file and its
    outputs; the gallery and the group targets are views of the records, not lists of their own."""
    from helix.figures import FIGURE_BUILDERS
    from helix.figures.workflow import figure_files, figure_groups, gallery_pairs

    assert list(specs) == list(catalog.FIGURES)
    for name, fig in catalog.FIGURES.items():
        assert specs[name]["kind"] == fig.builder and fig.builder in FIGURE_BUILDERS
        assert (repo / fig.caption).is_file(), fig.caption
        table = [f"results/tables/{name}.csv"]
        assert fig.outputs == (
            table
            if fig.table
            else [f"results/figures/{name}.{e}" for e in ("pdf", "png")] + table * fig.with_table
        )
    sources, copies = gallery_pairs()
    assert [Path(c).name for c in copies] == [
        Path(s).name for s in sources
    ] and "docs/gallery/fig5a.png" in copies
    assert all((repo / c).is_file() for c in copies)  # the committed gallery matches the records
    groups = figure_groups()
    assert sorted(groups) == ["fig10", "fig11", "fig5", "fig7", "fig8", "fig9", "served", "tables"]
    assert groups["tables"] == ["results/tables/table8.csv", "results/tables/reproduction.csv"]
    assert groups["served"] == figure_files(["served_validation", "served_throughput"])


def test_served_throughput_draws_and_tables_every_layout_on_one_path(specs, workdir):
    """served_throughput (a record like the paper's figures): the table holds each layout's
    max-flow and simulated offline/online throughput from its files; the paper's layout is read
    from its paper-helix@graph runs (our own-layout path), and the title says so."""
    import csv

    spec = specs["served_throughput"]
    write_inputs(workdir, spec_inputs(spec))
    render(spec, catalog.FIGURES["served_throughput"].outputs)
    rows = list(csv.DictReader(open("results/tables/served_throughput.csv")))
    assert [(r["cluster"], r["layout"]) for r in rows][:3] == [
        ("single24", "paper-helix@graph"),
        ("single24", "helix-maxflow"),
        ("single24", "helix"),
    ]
    for r in rows:
        sim = f"results/sims/{r['cluster']}/llama70b/{r['layout']}/helix/offline/metrics.json"
        assert float(r["offline"]) == pytest.approx(fake_metrics(sim)["decode_throughput_tps"])
    assert all((workdir / f).stat().st_size > 0 for f in catalog.FIGURES["served_throughput"].outputs)


def test_served_validation_plots_every_validated_layout(specs, workdir):
    spec = specs["served_validation"]
    write_inputs(workdir, spec_inputs(spec))
    fig = build_figure(spec)
    points = sum(len(c.get_offsets()) for c in fig.axes[0].collections)
    assert points == len(pd.read_csv(spec["path"]))
    assert fig.axes[0].get_xlabel() == "simulated offline decode throughput (tok/s)"
    plt.close(fig)


def test_served_throughput_declares_the_profiles_its_estimate_reads(repo):
    """The served estimate of served_throughput reads resources/profiles: those files are the
    rule's inputs (a changed profile reruns it), for the compared clusters' GPU types only, whose
    config entries alone are its params (an unrelated GPU type, H100 here, changes neither)."""
    import yaml

    from helix.config.schema import validate_config

    raw = yaml.safe_load((repo / "config/config.yaml").read_text())
    cfg = validate_config(raw, "config/config.yaml")
    spec = build_catalog(Context(exists=lambda p: False, artifact_dir=None, parser_available=False, cfg=cfg))[
        "served_throughput"
    ]
    used = set()
    for c in ("single24", "geo24", "hetero42"):  # from the config's entries, not the workflow's helper
        entry = raw["clusters"][c]
        used |= set(entry["types"]) if "types" in entry else {g for r in entry["regions"] for g in r}
    profiles = [p for p in spec_inputs(spec) if p.startswith("resources/profiles/")]
    files = ("prompt.csv", "decode.csv", "meta.json")
    expected = [f"resources/profiles/llama70b/{g.lower()}/{n}" for g in used for n in files]
    assert sorted(profiles) == sorted(expected)
    assert set(spec["gpus"]) == used and "H100" in cfg.gpus and "H100" not in used
