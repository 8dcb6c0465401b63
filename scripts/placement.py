"""Rule `placement`: place one model on one cluster with one method (preset in params).

Writes results/placements/{cluster}/{model}/{method}/: layout.yaml, flow.json and, for the helix
family (helix, helix-<variant>; rule placement_helix),
solver_trace.csv and milp_size.json. Solver progress goes to the rule's log; bad input is one line
there and on stderr, with a non-zero exit and no outputs. SIGINT/SIGTERM during the solve fail the
job too (exit 128 + signal, no outputs), keeping the incumbent for the rerun (helix.placement.interrupt).
"""

import time
from pathlib import Path

from helix.artifact.source import ArtifactSource
from helix.cluster import Cluster
from helix.models import load_hf_config
from helix.placement.api import make_problem, run_placement
from helix.placement.settings import PlacementPreset
from helix.planning.rerank import attach_reranker
from helix.profiles.entry import model_profiles
from helix.profiles.store import ProfileStore
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
w = sm.wildcards
with rule_log(sm) as log:
    preset = PlacementPreset.model_validate(sm.params.preset)
    cluster = Cluster.load(sm.input.cluster)
    source = ArtifactSource.at(sm.params.artifact)  # the root, whichever way it came
    model_json = source.path(sm.params.model["config_json"])
    model = load_hf_config(model_json, w.model, param_bytes_per_layer_override=sm.params.model.get("param_bytes_per_layer"))
    artifact = source.root
    profiles = model_profiles(model, sm.params.gpus, ProfileStore(sm.params.profiles_root), source="config gpus")
    out_dir = Path(sm.output.layout).parent
    problem = make_problem(cluster, model, w.model, preset, profiles, artifact, w.cluster, work_dir=out_dir)
    # served objective: the best candidates are re-ranked by short simulations (helix/planning)
    attach_reranker(problem, sm.input.lengths, sm.params.gpus, log=lambda line: print(line, file=log, flush=True))
    t0 = time.monotonic()
    # a signal during the solve fails the job (no output, so Snakemake never caches it);
    # the incumbent waits in .incumbent/ for the rerun
    result = run_placement(problem, w.method, out_dir, on_interrupt="fail")
    print(f"{w.cluster}/{w.model}/{w.method}: max_flow {result.objective:.2f} tok/s, "
          f"bound {result.upper_bound}, {time.monotonic() - t0:.1f} s wall", file=log)
    for row in result.trace:
        print(f"  {row.seconds:8.2f}s {row.objective:10.2f} {row.source}", file=log)
