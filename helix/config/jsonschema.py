"""Generate schemas/config.schema.json from the pydantic models (the single source of truth).

The checked-in schema lets editors and `snakemake.utils.validate` check config files without
importing helix; a test fails when it drifts from the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from helix.config.schema import Config
from helix.io import write_text

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.json"


def config_schema_text() -> str:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "helix-workflow config"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    write_text(path, config_schema_text())
    return Path(path)
