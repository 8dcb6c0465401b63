"""`helix validate-config FILE...`: check a config as the workflow will read it, and what it needs.

Snakemake reads the Snakefile's ``configfile: config/config.yaml`` first and merges every
``--configfile FILE`` over it: mappings key by key, everything else (lists, numbers, strings)
replaced; ``--replace-workflow-config`` drops config/config.yaml instead. This command checks
the same merge by default (``--alone`` checks the files alone), then what the rules will need:
model config.json files exist and parse, every cluster builds and has a route from the
coordinator through its machines back to it, prototype layout files exist, the artifact exists.
"""

from __future__ import annotations

from helix.commands._common import example

HELP = (
    "validate a config as `snakemake --configfile FILE` reads it (merged over config/config.yaml) "
    "and check the files and clusters it needs"
)
EXAMPLE = example("""
helix validate-config config/config.yaml
helix validate-config my-overlay.yaml            # as snakemake --configfile my-overlay.yaml reads it
helix validate-config --alone my-config.yaml     # as snakemake --replace-workflow-config reads it
""")


def add_arguments(p) -> None:
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.description = __doc__.split("\n", 1)[1].strip()
    p.add_argument("config", nargs="+", help="config YAML file(s), merged in order as repeated --configfile")
    p.add_argument(
        "--base",
        default=None,
        help="the workflow's own config the files are merged over "
        "(default: config/config.yaml when it exists)",
    )
    p.add_argument(
        "--alone",
        action="store_true",
        help="check the files without the base (as snakemake --replace-workflow-config)",
    )
    p.add_argument(
        "--no-files", action="store_true", help="check the config values only, not the files and clusters"
    )


def run(args) -> int:
    from pathlib import Path

    from helix.config.check import WORKFLOW_CONFIG, check_workflow_inputs, load_merged
    from helix.profiles.workflow import ProfilePlan

    base = None
    if not args.alone:
        base = args.base or (WORKFLOW_CONFIG if Path(WORKFLOW_CONFIG).is_file() else None)
        if base and all(Path(c).resolve() == Path(base).resolve() for c in args.config):
            base = None
    cfg, sources = load_merged(args.config, base)
    label = " + ".join(sources)
    # what the workflow checks at start-up: models' config.json, GPU types that cannot be profiled
    ProfilePlan(cfg, ".", [], label).check()
    notes = [] if args.no_files else check_workflow_inputs(cfg, label)
    print(
        f"{label}: ok ({len(cfg.clusters)} clusters, {len(cfg.models)} models, "
        f"{len(cfg.experiments)} experiments)"
    )
    for note in notes:
        print(f"  not checked yet: {note}")
    return 0
