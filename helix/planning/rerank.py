"""Re-rank a planner's candidate layouts by simulations (offline, and online at the configured
rates; helix scheduler).

Why: the served-throughput estimate ranks layouts well but not perfectly; the best few candidates
it proposes are close, and a short simulation tells them apart. The planner
(helix/placement/methods/helix.py) receives :func:`simulated_reranker`'s callable as
``PlacementProblem.rerank`` and never imports the simulator itself.

Runs are deterministic (seeded workload, no wall clock); a candidate the simulator rejects
(KV overflow, no route) scores -1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from helix.cluster import Cluster
from helix.errors import HelixInputError, HelixRunError
from helix.parallel import ordered_map
from helix.placement.interrupt import STOP
from helix.placement.base import layout_from_vectors


def simulate_layout(
    cluster: Cluster,
    layout,
    model,
    model_key: str,
    store,
    gpus: dict,
    lengths,
    *,
    mode: str = "offline",
    rate_tps: float | None = None,
    duration_s: float | None = None,
    warmup_s: float | None = None,
    arrivals: Sequence[int] | None = None,
    seed: int = 0,
) -> dict:
    """Metrics of one layout through the own-layout path (helix.sim.graph), helix scheduler.

    ``store``: the model's ``ModelProfiles`` (or a ProfileStore, read through the datasheet table)."""
    from helix.sim.graph import graph_from_layout
    from helix.sim.run import simulate
    from helix.sim.settings import WorkloadSpec

    from helix.profiles.entry import as_model_profiles

    profiles = as_model_profiles(model, store)
    sc = graph_from_layout(cluster, layout, profiles, gpus, source=f"layout on {cluster.name}")
    wl = WorkloadSpec(mode=mode, rate_tps=rate_tps, duration_s=duration_s, warmup_s=warmup_s, seed=seed)
    out = simulate(
        model,
        sc,
        dict(layout.used()),
        profiles,
        "helix",
        wl,
        lengths,
        arrivals,
        source=f"layout on {cluster.name}",
    )
    return {**out.metrics, "max_flow": out.max_flow}


def simulated_reranker(
    cluster: Cluster,
    model,
    model_key: str,
    store,
    gpus: dict,
    lengths,
    duration_s: float,
    warmup_s: float,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    arrivals: Sequence[int] | None = None,
    online_duration_s: float | None = None,
    workers: int = 1,
) -> Callable:
    """A ``PlacementProblem.rerank`` callable: [(starts, sizes)] -> simulated decode tok/s,
    offline, or online at ``rate_tps`` (then ``arrivals``, the arrival trace, is needed); the
    candidates' simulations run in ``workers`` processes (the same numbers as one by one)."""
    from helix.sim.engine import default_core

    full_s = duration_s

    def rerank(
        candidates: list[tuple[list[int], list[int]]],
        duration_s: float | None = None,
        rate_tps: float | None = None,
    ) -> list[float]:
        """Simulated decode tok/s of each candidate: offline (``duration_s``, a screening run,
        replaces the full length, the warm-up stays), or online at ``rate_tps`` tokens/s over
        ``online_duration_s`` of arrivals (a rate the layout cannot take scores -1)."""
        online = rate_tps is not None
        if online and arrivals is None:
            raise HelixInputError(
                "placement", "rerank_online_tps", "online re-ranking needs the arrival trace"
            )
        # The simulator's own environment (HELIX_SIM_CORE, a stale compiled loop) is checked once,
        # outside the per-candidate errors: were it caught there, every candidate would score -1 and
        # the planner would quietly write the estimate's first pick.
        default_core()
        dur = online_duration_s if online else duration_s or full_s
        what = f"online at {rate_tps:g} tok/s" if online else "offline"

        def job(st, sz):
            """One candidate's throughput (-1 where the simulator rejects it) and its log lines."""
            lay = layout_from_vectors(cluster, model.num_layers, st, sz)
            lines = []
            try:
                m = simulate_layout(
                    cluster,
                    lay,
                    model,
                    model_key,
                    store,
                    gpus,
                    lengths,
                    mode="online" if online else "offline",
                    rate_tps=rate_tps,
                    duration_s=dur,
                    warmup_s=None if online else warmup_s,
                    arrivals=arrivals if online else None,
                    seed=seed,
                )
                v = float(m["decode_throughput_tps"])
            except (HelixInputError, HelixRunError) as exc:  # bad layout, a KV overflow, all links masked
                v = -1.0
                lines.append(f"{what}: {exc.one_line()}")
            lines.append(f"{v:.2f} decode tok/s simulated {what} over {dur:g} s")
            return v, lines

        # independent, seeded runs: in ``workers`` processes, gathered in the candidates' order.
        # A signal (SIGINT/SIGTERM: STOP) ends the runs, and the candidates not simulated score -1,
        # like rejected ones: the planner then ends as interrupted (helix.placement.interrupt)
        # instead of waiting on workers the same signal may have killed.
        done = ordered_map([partial(job, st, sz) for st, sz in candidates], workers, stop=STOP.is_set)
        out = []
        for q, (v, lines) in enumerate(done):
            if log:
                for line in lines:
                    log(f"rerank candidate {q}: {line}")
            out.append(v)
        return out + [-1.0] * (len(candidates) - len(out))

    return rerank


def attach_reranker(
    problem,
    lengths_path,
    gpus: dict,
    log: Callable[[str], None] | None = None,
    arrivals_path=None,
) -> None:
    """Give a served-objective placement its simulated re-ranking (a no-op for max-flow presets);
    ``arrivals_path`` (the arrival trace) is needed when the preset re-ranks online."""
    s = problem.settings
    if s.objective != "served" or s.rerank <= 1:
        return
    from helix.artifact.traces import load_arrivals, load_lengths

    arrivals = None
    if s.rerank_online_tps:
        if arrivals_path is None:
            raise HelixInputError(
                "placement preset", "rerank_online_tps", "online re-ranking needs the arrival trace"
            )
        arrivals = load_arrivals(arrivals_path).tolist()
    inp, out = load_lengths(lengths_path)
    problem.lengths = (inp.tolist(), out.tolist())
    problem.rerank = simulated_reranker(
        problem.cluster,
        problem.model,
        problem.model_key,
        problem.profiles,
        gpus,
        problem.lengths,
        s.rerank_duration_s,
        s.rerank_warmup_s,
        seed=s.seed,
        log=log,
        arrivals=arrivals,
        online_duration_s=s.rerank_online_duration_s,
        workers=s.threads,
    )
