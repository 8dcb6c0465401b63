"""Run one placement end to end and write its result files (used by the rule script and ``helix place``).

Outputs in ``out_dir``: ``layout.yaml``; ``flow.json`` with ``max_flow`` (tokens/s), ``upper_bound``,
``gap``, ``arcs`` [{from, to, capacity, flow}], ``method``, and for solver runs ``solver`` and
``seconds`` (wall time: the one non-reproducible field, kept because the experiment reports it);
``solver_trace.csv`` (seconds, objective, bound, source) and ``milp_size.json`` for the helix
family (``helix`` and ``helix-<variant>``; other methods write neither); ``meta.json`` (preset,
seed, package versions, git revision). With ``budget: time`` the heuristic and the MILP stop on the
wall clock, so a rerun may find another layout; with ``budget: evaluations`` they stop on counts and
a rerun writes a byte-identical layout.yaml (flow.json differs only in ``seconds``, the trace only
in its time column). The baselines are deterministic.
Every file is written atomically, and only after the placement succeeded (no partial output).
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from helix.cluster import Cluster
from helix.io import write_json, write_text
from dataclasses import replace

from helix.errors import PlacementError
from helix.placement.base import PlacementProblem, PlacementResult, TraceRow, get_method
from helix.placement.interrupt import stop_on_signals
from helix.placement.settings import PlacementPreset


def make_problem(
    cluster: Cluster,
    model,
    model_key: str,
    settings: PlacementPreset,
    profiles=None,
    artifact_dir: str | Path | None = None,
    cluster_key: str | None = None,
    warm_start_file: str | Path | None = None,
    work_dir: str | Path | None = None,
) -> PlacementProblem:
    """Capacity tables from ``helix.profiles.typical`` for this cluster's machine mix
    (docs/design/placement.md trap 2).

    ``profiles`` is the model's ``helix.profiles.entry.ModelProfiles`` (a bare ProfileStore is read
    through the built-in datasheet table).
    """
    from helix.profiles.entry import as_model_profiles
    from helix.profiles.typical import capacity_tables

    mp = as_model_profiles(model, profiles) if profiles is not None else None

    def tables_for_mix(mix: dict[str, int]):
        return capacity_tables(mp, mix)

    if settings.capacities == "artifact":
        from helix.placement.methods.paper import artifact_lp_tables

        tables = artifact_lp_tables(Path(artifact_dir), cluster_key or cluster.name, model_key, cluster)
    else:
        tables = tables_for_mix(cluster.gpu_mix())
    provenance = mp.provenance(cluster.gpu_mix()) if mp is not None else None
    return PlacementProblem(
        cluster=cluster,
        model=model,
        tables=tables,
        settings=settings,
        tables_for_mix=tables_for_mix,
        provenance=provenance,
        model_key=model_key,
        cluster_key=cluster_key or cluster.name,
        artifact_dir=Path(artifact_dir) if artifact_dir else None,
        warm_start_file=Path(warm_start_file) if warm_start_file else None,
        work_dir=Path(work_dir) if work_dir else None,
        profiles=mp,
    )


def flow_document(result: PlacementResult) -> dict:
    arcs = []
    if result.graph is not None and result.flow is not None:
        for u, v, cap in result.graph.arcs:
            arcs.append(
                {
                    "from": u,
                    "to": v,
                    "capacity": round(cap, 6),
                    "flow": round(result.flow.arc_flows.get((u, v), 0.0), 6),
                }
            )
    doc = {
        "method": result.method,
        "max_flow": round(result.objective, 6),
        "upper_bound": None if result.upper_bound is None else round(result.upper_bound, 6),
        "gap": None if result.gap is None else round(result.gap, 6),
        "arcs": arcs,
        "nodes": {
            name: {"capacity": round(cap, 6), "flow": round(result.flow.node_flows.get(name, 0.0), 6)}
            for name, cap in (result.graph.node_capacity.items() if result.graph and result.flow else [])
        },
    }
    if result.groups:
        doc["groups"] = result.groups
    if result.solver is not None:
        doc["solver"] = result.solver
        doc["seconds"] = result.seconds
    if result.notes:
        doc["notes"] = result.notes
    return doc


def milp_size_document(sizes: dict) -> dict:
    """milp_size.json. Table 8 reads ``unpruned`` and ``pruned``: the paper's per-machine MILP
    (docs/design/placement.md s2) on the full cluster and after the paper's pruning (s3), always written,
    whatever was solved. The top level (``solved``, rows/columns/nonzeros) describes the model this
    run actually solved (``unpruned``, ``pruned_with_warm_start_arcs`` or ``aggregated``: the
    interval model of s11a on single24/hetero42; the unpruned per-node model when no MILP ran)."""
    solved = sizes.get(sizes.get("solved", "unpruned")) or sizes.get("unpruned") or {}
    if sizes.get("solved") == "pruned":
        solved = sizes.get("pruned_with_warm_start_arcs") or sizes.get("pruned") or solved
    doc = {
        "solved": sizes.get("solved"),
        "rows": solved.get("rows"),
        "columns": solved.get("cols"),
        "nonzeros": solved.get("nonzeros"),
    }
    for key in ("unpruned", "pruned", "pruned_with_warm_start_arcs", "aggregated"):
        if key in sizes:
            doc[key] = {
                "rows": sizes[key]["rows"],
                "columns": sizes[key]["cols"],
                "nonzeros": sizes[key]["nonzeros"],
            }
    return doc


def trace_csv(result: PlacementResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["seconds", "objective", "bound", "source"])
    for r in result.trace:
        w.writerow(
            [f"{r.seconds:.3f}", f"{r.objective:.6f}", "" if r.bound is None else f"{r.bound:.6f}", r.source]
        )
    return buf.getvalue()


def place_per_gpu_type(problem: PlacementProblem, impl) -> PlacementResult:
    """One placement per single-type sub-cluster (``<cluster>-<gpu>``), as the paper did for 30B.

    Each sub-problem uses its own machine mix's tables and the full time limit; the layout is the
    union, the objective the sum, and ``groups`` names the sub-clusters.
    """
    from helix.flow.graph import FlowGraph
    from helix.flow.maxflow import FlowResult
    from helix.layout import Layout

    ranges: dict = {m.name: None for m in problem.cluster.machines}
    groups, trace, arcs, node_caps, arc_flows, node_flows = {}, [], [], {}, {}, {}
    total, bound, seconds, sizes = 0.0, 0.0, 0.0, {}
    for gpu in problem.cluster.gpu_mix():
        sub = problem.cluster.sub_cluster(gpu, name=f"{problem.cluster.name}-{gpu.lower()}")
        tables = problem.tables_for_mix(sub.gpu_mix()) if problem.tables_for_mix else problem.tables
        # a reranker simulates on the full cluster: the single-type parts are placed without one
        sub_problem = replace(problem, cluster=sub, tables=tables, cluster_key=sub.name, rerank=None)
        r = impl.place(sub_problem)
        ranges.update(r.layout.ranges)
        groups[sub.name] = [m.name for m in sub.machines]
        total += r.objective
        bound += r.upper_bound or 0.0
        seconds += r.seconds or 0.0
        trace += [TraceRow(t.seconds, t.objective, t.bound, f"{sub.name}:{t.source}") for t in r.trace]
        arcs += r.graph.arcs
        node_caps.update(r.graph.node_capacity)
        arc_flows.update(r.flow.arc_flows)
        node_flows.update(r.flow.node_flows)
        for k, v in (r.milp_size or {}).items():
            if not isinstance(v, dict):
                sizes[k] = v
                continue
            acc = sizes.setdefault(k, {"rows": 0, "cols": 0, "nonzeros": 0, "integer_cols": 0})
            for kk in acc:
                acc[kk] += v[kk]
    layout = Layout(problem.L, ranges)
    graph = FlowGraph(problem.L, list(node_caps), node_caps, arcs)
    return PlacementResult(
        layout=layout,
        method="helix",
        objective=total,
        upper_bound=bound,
        solver=f"{problem.settings.backend} per GPU type",
        seconds=round(seconds, 3),
        trace=trace,
        milp_size=sizes or None,
        graph=graph,
        flow=FlowResult(total, arc_flows, node_flows),
        groups=groups,
    )


def meta_document(problem: PlacementProblem, method: str) -> dict:
    """meta.json: what produced the result (no timestamps, so reruns stay byte-identical)."""
    from helix.provenance import provenance

    prov = provenance(("highspy", "ortools", "gurobipy", "numpy", "scipy"))
    return {
        "cluster": problem.cluster_key,
        "model": problem.model_key,
        "method": method,
        "preset": problem.settings.model_dump(mode="json"),
        "seed": problem.settings.seed,
        **prov,
        "profiles": problem.provenance,
    }


def run_placement(
    problem: PlacementProblem, method: str, out_dir: str | Path, on_interrupt: str = "keep"
) -> PlacementResult:
    """Place, then write the result files; SIGINT/SIGTERM end the search with its best layout.

    ``on_interrupt`` says what a signal during the solve means (``helix.placement.interrupt``):
    ``"keep"`` (by hand) writes the best layout so far, marked interrupted in flow.json;
    ``"fail"`` (under a workflow) writes no output, keeps the incumbent in ``.incumbent/`` for
    the rerun's warm start and raises :class:`Interrupted` (exit 128 + signal number).
    """
    from helix.errors import HelixInputError
    from helix.placement.interrupt import (
        STOP,
        Interrupted,
        clear_incumbent,
        received_signal,
        resume_file,
        save_incumbent,
    )
    from helix.placement.workflow import is_helix_family
    from helix.placement.names import is_paper

    if on_interrupt not in ("keep", "fail"):
        raise ValueError(f"on_interrupt must be 'keep' or 'fail', not {on_interrupt!r}")
    out = Path(out_dir)
    impl = get_method(method)
    helix_family = is_helix_family(method)
    problem.cluster.check_routable(f"cluster {problem.cluster_key}")
    key = {"cluster": problem.cluster_key, "model": problem.model_key, "method": method}
    resumed = None
    if (
        on_interrupt == "fail"
        and helix_family
        and problem.warm_start_file is None
        and not problem.settings.per_gpu_type
    ):
        resumed = resume_file(out, key, problem.cluster, problem.L, problem.K)
        if resumed is not None:
            problem = replace(problem, warm_start_file=resumed)
    with stop_on_signals():
        try:
            if problem.settings.per_gpu_type and helix_family:
                result = place_per_gpu_type(problem, impl)
            else:
                result = impl.place(problem)
        except HelixInputError as exc:
            if STOP.is_set() and on_interrupt == "fail":  # stopped before any layout was found
                message = (
                    f"interrupted by signal {received_signal()} before a layout was found ({exc.one_line()})"
                )
                logging.getLogger(__name__).error(message)
                raise Interrupted(received_signal(), message) from None
            raise
    if STOP.is_set() and on_interrupt == "fail":
        saved = (
            save_incumbent(out, result.layout, problem.cluster, key, result.objective)
            if helix_family
            else None
        )
        where = (
            f"; incumbent (max_flow {result.objective:.2f}) kept in {saved} for the rerun" if saved else ""
        )
        message = f"interrupted by signal {received_signal()}: no output written{where}"
        logging.getLogger(__name__).error(message)  # the rule's log (helix.runner routes logging there)
        raise Interrupted(received_signal(), message)
    # Never a layout that serves nothing from a method of ours. The authors' layouts are imported
    # as they are: some route only through overlapping ranges (partial inference, which our flow
    # graph leaves out, e.g. geo24 paper-petals), and their simulations read the artifact's graph.
    if not result.objective > 0 and not is_paper(method):
        raise PlacementError(
            f"cluster {problem.cluster_key}",
            "layout",
            f"{method} found no layout with a positive max-flow "
            f"(every route misses some of the {problem.L} layers)",
        )
    if helix_family:
        result.method = method
        if resumed is not None:
            result.notes = {**(result.notes or {}), "resumed_from": str(resumed)}
    if result.upper_bound is None:  # baselines: report the same layer-capacity bound (gap to it)
        from helix.placement.bounds import problem_bound

        result.upper_bound = problem_bound(problem)
    result.layout.save(out / "layout.yaml", problem.cluster)
    write_json(out / "flow.json", flow_document(result))
    write_json(out / "meta.json", meta_document(problem, method))
    if helix_family:
        write_text(out / "solver_trace.csv", trace_csv(result))
        write_json(out / "milp_size.json", milp_size_document(result.milp_size or {}))
    if resumed is not None or on_interrupt == "fail":
        clear_incumbent(out)
    return result
