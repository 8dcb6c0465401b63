"""Rule estimator_validation_case: estimate and simulate every validation layout of one (cluster, model).

Thin: the layouts, the estimate and the simulation are in helix.planning.validation; bad input
is one line in the log and on stderr, with no output.
"""

from helix.artifact.source import ArtifactSource
from helix.artifact.traces import load_lengths
from helix.cluster import Cluster
from helix.io import write_text
from helix.models import load_hf_config
from helix.placement.api import make_problem
from helix.placement.settings import PlacementPreset
from helix.planning.validation import candidate_layouts, rows_csv, simulate_with_stats, validate
from helix.profiles.entry import model_profiles
from helix.profiles.store import ProfileStore
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
w = sm.wildcards
with rule_log(sm) as log:
    cluster = Cluster.load(sm.input.cluster)
    source = ArtifactSource.at(sm.params.artifact)  # the root, whichever way it came
    model_json = source.path(sm.params.model["config_json"])
    model = load_hf_config(
        model_json, w.model, param_bytes_per_layer_override=sm.params.model.get("param_bytes_per_layer")
    )
    artifact = source.root
    profiles = model_profiles(
        model, sm.params.gpus, ProfileStore(sm.params.profiles_root), source="config gpus"
    )
    problem = make_problem(cluster, model, w.model, PlacementPreset(), profiles, artifact, w.cluster)
    own = {m: sm.input[m] for m in ("helix", "helix-maxflow")}
    layouts = candidate_layouts(problem, artifact, own, int(sm.params.seed))
    inp, out = load_lengths(sm.input.lengths)
    lengths = (inp.tolist(), out.tolist())

    def simulate(layout):
        return simulate_with_stats(cluster, layout, model, profiles, sm.params.gpus, lengths)

    rows = validate(
        problem, layouts, simulate, progress=lambda line: print(line, file=log, flush=True), lengths=lengths
    )
    write_text(sm.output.csv, rows_csv(rows))
