"""Rule simulate: one simulation run (or the aggregate of its sub-cluster parts)."""

from pathlib import Path

from helix.profiles.paths import PROFILES_ROOT
from helix.profiles.store import ProfileStore
from helix.runner import rule_log
from helix.sim.outputs import write_aggregate, write_run
from helix.sim.pipeline import run_entry

sm = snakemake  # noqa: F821 - injected by Snakemake
entry = dict(sm.params.run)
paths = {k: sm.output[k] for k in ("metrics", "requests", "congestion", "iterations", "meta")}
with rule_log(sm) as log:
    if entry["parts"]:
        part_dirs = [str(Path(sm.input.parts[0]).parents[5] / k) for k in entry["parts"]]
        metrics = write_aggregate(paths, part_dirs, entry)
    else:
        model = sm.params.model
        layout = cluster = None
        if not entry["method"].startswith("paper-"):
            layout, cluster = sm.input.layout
        out = run_entry(
            entry,
            model_json=Path(sm.params.artifact) / model["config_json"][len("artifact:"):] if model["config_json"].startswith("artifact:") else model["config_json"],
            param_bytes_per_layer=model.get("param_bytes_per_layer"),
            lengths=sm.input.traces[0],
            arrivals=sm.input.traces[1],
            profiles=ProfileStore(PROFILES_ROOT),
            artifact=sm.params.artifact,
            layout=layout,
            cluster=cluster,
            gpus=sm.params.gpus,
            progress=True,
        )
        metrics = write_run(paths, out, entry, {"layout": ",".join(map(str, sm.input.get("layout", [])))})
    print(f"decode throughput {metrics['decode_throughput_tps']:.3f} tok/s; prompt {metrics['prompt_latency_s']}; decode {metrics['decode_latency_s']}", file=log)
