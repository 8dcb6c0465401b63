"""Rule `prototype`: one real serving run (host + workers) of a placement; events, routes, metrics.

A run split into sub-clusters (``parts``) serves nothing itself: it stacks its parts' logs and
aggregates their metrics (sum of throughputs, pooled latencies).
"""

import shutil
import tempfile
from pathlib import Path

from helix.cluster import Cluster
from helix.layout import Layout
from helix.prototype.aggregate import aggregate_parts
from helix.prototype.run import StartupError, run_prototype
from helix.prototype.settings import ProtoRunSpec
from helix.prototype.traces import load_traces
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm, expected=(StartupError,)) as log:

    def say(msg: str) -> None:
        print(msg, file=log, flush=True)

    def aggregate(spec: ProtoRunSpec) -> None:
        names = list(spec.parts)
        parts = {n: {k: sm.input[f"part_{k}"][i] for k in ("events", "routes", "tokens")} for i, n in enumerate(names)}
        outs = {k: sm.output[k] for k in ("events", "routes", "tokens", "metrics")}
        metrics = aggregate_parts(parts, outs, spec.warmup_s, spec.duration_s)
        say(f"aggregate of {names}: decode throughput {metrics['decode_throughput_tps']:.2f} tok/s")

    def serve(spec: ProtoRunSpec) -> None:
        cluster = Cluster.load(sm.input.cluster)
        layout = Layout.load(sm.input.layout, cluster)
        lengths, arrivals = load_traces(sm.input.lengths, sm.input.arrivals)
        out = Path(sm.output.metrics).parent
        # run in a scratch dir, then move the declared outputs: nothing partial on failure
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
            metrics = run_prototype(layout, sm.input.model, spec, tmp, lengths, arrivals, cluster, log=say)
            for key in ("events", "routes", "tokens", "metrics"):
                shutil.move(str(Path(tmp) / Path(sm.output[key]).name), sm.output[key])
            for name in ("run.json", "system_config.yaml", "meta.json"):
                shutil.move(str(Path(tmp) / name), str(out / name))
            for wlog in sorted((Path(tmp) / "work").glob("worker*.log")):
                say(f"--- {wlog.name}\n{wlog.read_text()}")
        say(f"decode throughput {metrics['decode_throughput_tps']:.2f} tok/s, failed requests {metrics['failed_requests']}")

    spec = ProtoRunSpec.model_validate(sm.params.spec)
    if spec.parts:
        aggregate(spec)
    else:
        serve(spec)
