"""`helix validate-config FILE`: check a config file against the typed config models."""

from __future__ import annotations

from helix.commands._common import example

HELP = "validate a config.yaml against the typed config models"
EXAMPLE = example("""
helix validate-config config/config.yaml
""")


def add_arguments(p) -> None:
    p.add_argument("config", help="path to a config YAML file")


def run(args) -> int:
    from helix.config import load_config
    from helix.profiles.workflow import ProfilePlan

    cfg = load_config(args.config)
    # what the workflow checks at start-up: models' config.json, GPU types that cannot be profiled
    ProfilePlan(cfg, ".", [], str(args.config)).check()
    print(f"{args.config}: ok ({len(cfg.clusters)} clusters, {len(cfg.models)} models, {len(cfg.experiments)} experiments)")
    return 0
