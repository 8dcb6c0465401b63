"""`helix schema [--check]`: regenerate (or check) schemas/config.schema.json."""

from __future__ import annotations

from helix.commands._common import example

HELP = "write schemas/config.schema.json from the typed config models (--check: fail on drift)"
EXAMPLE = example("""
helix schema --check
""")


def add_arguments(p) -> None:
    p.add_argument("--out", default=None, help="output path (default: schemas/config.schema.json)")
    p.add_argument("--check", action="store_true", help="exit 1 if the file differs from the models")


def run(args) -> int:
    from pathlib import Path

    from helix.config.jsonschema import SCHEMA_PATH, config_schema_text, write_schema

    out = Path(args.out) if args.out else SCHEMA_PATH
    if args.check:
        if not out.is_file() or out.read_text() != config_schema_text():
            print(f"{out}: out of date; run `helix schema`")
            return 1
        print(f"{out}: up to date")
        return 0
    write_schema(out)
    print(f"wrote {out}")
    return 0
