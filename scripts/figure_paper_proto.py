"""Rule `paper_proto_metrics`: the paper's prototype event logs through our parser (helix parse-log).

The prototype bars of Figures 5 and 9a fall back to these when no prototype run of ours exists.
"""

from helix.io import write_json
from helix.prototype.logparse import parse_logs
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    warmup_s = float(sm.params.warmup_s)
    metrics = parse_logs(list(sm.input.logs), warmup_s=warmup_s, end_s=float(sm.params.end_s))
    write_json(sm.output[0], metrics)
    tps = metrics["decode_throughput_tps"]
    print(f"{len(sm.input.logs)} log(s), warm-up {warmup_s} s: {tps:.1f} tok/s", file=log)
