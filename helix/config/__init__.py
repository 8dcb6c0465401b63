"""Typed configuration: the pydantic models are the single source of truth for config.yaml."""

from helix.config.schema import Config, load_config  # noqa: F401
