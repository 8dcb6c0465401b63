"""Rule `paper_proto_metrics`: the paper's prototype event logs through our parser (helix parse-log).

The prototype bars of Figures 5 and 9a fall back to these when no prototype run of ours exists.
"""


from helix.io import write_json
from helix.prototype.logparse import parse_logs
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_log(sm) as log:
    metrics = parse_logs(list(sm.input.logs), warmup_s=float(sm.params.warmup_s), end_s=float(sm.params.end_s))
    write_json(sm.output[0], metrics)
    print(f"{len(sm.input.logs)} log(s), warm-up {sm.params.warmup_s} s: {metrics['decode_throughput_tps']:.1f} tok/s", file=log)
