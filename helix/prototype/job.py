"""One job of the prototype rule: serve a placement for real, or aggregate a run's sub-cluster parts.

What scripts/prototype.py calls inside the rule runner. A served run works in a scratch folder next
to its outputs and moves the declared files into place only when it succeeded, so a failed run
leaves nothing partial; the workers' own logs are appended to the rule's log.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from helix.prototype.settings import ProtoRunSpec

OUTPUTS = ("events", "routes", "tokens", "metrics")
EXTRA_FILES = ("run.json", "system_config.yaml", "meta.json")  # beside the outputs, undeclared


def aggregate_job(spec: ProtoRunSpec, inputs, outputs, say: Callable[[str], None]) -> dict:
    """A run split into parts: stack the parts' logs and aggregate their metrics."""
    from helix.prototype.aggregate import aggregate_parts

    names = list(spec.parts)
    parts = {
        n: {k: inputs[f"part_{k}"][i] for k in ("events", "routes", "tokens")} for i, n in enumerate(names)
    }
    metrics = aggregate_parts(parts, {k: outputs[k] for k in OUTPUTS}, spec.warmup_s, spec.duration_s)
    say(f"aggregate of {names}: decode throughput {metrics['decode_throughput_tps']:.2f} tok/s")
    return metrics


def serve_job(spec: ProtoRunSpec, inputs, outputs, say: Callable[[str], None]) -> dict:
    """Start the host and the workers of the placement, serve the run's workload, write its files."""
    from helix.cluster import Cluster
    from helix.layout import Layout
    from helix.prototype.run import run_prototype
    from helix.prototype.traces import load_traces

    cluster = Cluster.load(inputs.cluster)
    layout = Layout.load(inputs.layout, cluster)
    lengths, arrivals = load_traces(inputs.lengths, inputs.arrivals)
    out = Path(outputs["metrics"]).parent
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        metrics = run_prototype(layout, inputs.model, spec, tmp, lengths, arrivals, cluster, log=say)
        for key in OUTPUTS:
            shutil.move(str(Path(tmp) / Path(outputs[key]).name), outputs[key])
        for name in EXTRA_FILES:
            shutil.move(str(Path(tmp) / name), str(out / name))
        for wlog in sorted((Path(tmp) / "work").glob("worker*.log")):
            say(f"--- {wlog.name}\n{wlog.read_text()}")
    tps, failed = metrics["decode_throughput_tps"], metrics["failed_requests"]
    say(f"decode throughput {tps:.2f} tok/s, failed requests {failed}")
    return metrics


def prototype_job(spec: dict, inputs, outputs, say: Callable[[str], None]) -> dict:
    """The rule's job: ``spec`` is the run's config entry (params), ``inputs``/``outputs`` the rule's."""
    run = ProtoRunSpec.model_validate(spec)
    return (aggregate_job if run.parts else serve_job)(run, inputs, outputs, say)
