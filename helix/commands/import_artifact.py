"""`helix import-artifact --artifact DIR --out resources`: convert the artifact's profiles and traces.

Writes the project's own formats (the same files the Snakemake rules import_profiles and
import_traces make): ``OUT/profiles/<model>/<gpu>/{prompt,decode}.csv + meta.json`` and
``OUT/traces/azure_conv_{lengths.parquet,arrivals.csv}``.
"""

from __future__ import annotations

from helix.commands._common import example

HELP = "convert the authors' artifact (profiles, traces) into the project's formats under --out"
EXAMPLE = example("""
helix import-artifact --artifact $HELIX_ARTIFACT_DIR --out resources
""")


def add_arguments(p) -> None:
    p.add_argument("--artifact", required=True, help="artifact root (the pinned commit's checkout)")
    p.add_argument("--out", default="resources", help="output root (default: resources)")
    p.add_argument("--only", choices=["profiles", "traces"], help="import just one kind")


def run(args) -> int:
    from pathlib import Path

    from helix.artifact.traces import import_traces
    from helix.errors import HelixInputError
    from helix.profiles.store import import_profiles

    artifact = Path(args.artifact)
    if not artifact.is_dir():
        raise HelixInputError(artifact, "--artifact", "artifact directory not found")
    out = Path(args.out)
    if args.only in (None, "profiles"):
        dirs = import_profiles(artifact, out / "profiles")
        print(f"profiles: {len(dirs)} (model, GPU) pairs -> {out / 'profiles'}")
    if args.only in (None, "traces"):
        paths = import_traces(artifact, out / "traces")
        print(f"traces: {paths['lengths']}, {paths['arrivals']}")
    return 0
