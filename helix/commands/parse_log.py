"""`helix parse-log LOG... --warmup-s W`: prototype metrics of event logs (ours or the paper's)."""

from __future__ import annotations

from helix.commands._common import example

import json

HELP = (
    "metrics of prototype event logs (events.csv or the paper's events.txt); "
    "several logs = sub-cluster aggregate"
)
EXAMPLE = example("""
helix parse-log results/proto/tiny4/tiny-llama/manual/helix/offline/events.csv --warmup-s 2
""")


def add_arguments(p) -> None:
    p.add_argument(
        "logs", nargs="+", help="events.csv / events.txt files; several = one run split into sub-clusters"
    )
    p.add_argument(
        "--warmup-s",
        type=float,
        default=60.0,
        help="exclude iterations finished before this (paper: 60, 70B online 200)",
    )
    p.add_argument(
        "--end-s", type=float, default=300.0, help="exclude iterations finished after this (paper: 300)"
    )


def run(args) -> int:
    from helix.errors import HelixInputError
    from helix.prototype.logparse import parse_logs, read_events

    for path in args.logs:  # metrics of nothing are NaN, not a result
        if len(read_events(path)) == 0:
            raise HelixInputError(path, None, "no events (an empty or header-only log)")
    print(json.dumps(parse_logs(args.logs, warmup_s=args.warmup_s, end_s=args.end_s), indent=2))
    return 0
