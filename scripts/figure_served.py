"""Figures of the serving-aware planner (helix.figures.served): estimator validation, or max-flow
vs served throughput (with its table)."""

import csv
import json

from helix.figures.served import comparison_figure, validation_figure
from helix.io import atomic_path
from helix.planning.validation import read_rows
from helix.planning.workflow import comparison_table
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm):
    if "summary" in sm.input.keys():
        with open(sm.input.summary) as f:
            summary = json.load(f)
        validation_figure(read_rows(sm.input.csv), summary, sm.output.pdf, sm.output.png)
    else:
        from helix.models import load_hf_config
        from helix.profiles.entry import model_profiles
        from helix.profiles.store import ProfileStore

        m = sm.params.model
        model = load_hf_config(sm.params.model_json, "llama70b", param_bytes_per_layer_override=m.get("param_bytes_per_layer"))
        table = comparison_table(".", model, model_profiles(model, sm.params.gpus, ProfileStore("resources/profiles")))
        comparison_figure(table, sm.output.pdf, sm.output.png)
        with atomic_path(sm.output.table) as tmp:
            with open(tmp, "w", newline="") as f:
                wr = csv.DictWriter(f, ["cluster", "layout", "max_flow", "offline", "online", "rate", "estimate_online"], lineterminator="\n")
                wr.writeheader()
                wr.writerows(table)
