"""`helix validate-config FILE`: check a config file against the typed config models."""

from __future__ import annotations

HELP = "validate a config.yaml against the typed config models"


def add_arguments(p) -> None:
    p.add_argument("config", help="path to a config YAML file")


def run(args) -> int:
    from helix.config import load_config

    cfg = load_config(args.config)
    print(f"{args.config}: ok ({len(cfg.clusters)} clusters, {len(cfg.models)} models, {len(cfg.experiments)} experiments)")
    return 0
