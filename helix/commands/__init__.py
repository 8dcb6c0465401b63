"""Subcommands of the `helix` CLI, one module each (see helix/cli.py)."""
