"""Where the profiles phase puts its files: one place for rules, scripts and the CLI to agree on.

Kept free of Snakemake so rule files can import these helpers instead of defining functions.
"""

from __future__ import annotations

from typing import Iterable

PROFILES_ROOT = "resources/profiles"
PROFILE_FILES = ("prompt.csv", "decode.csv", "meta.json")
TRACES_ROOT = "resources/traces"
TRACE_FILES = (f"{TRACES_ROOT}/azure_conv_lengths.parquet", f"{TRACES_ROOT}/azure_conv_arrivals.csv")


def profile_files(model: str, gpus: Iterable[str], root: str = PROFILES_ROOT) -> list[str]:
    """Profile files of ``model`` on each GPU type in ``gpus`` (config names; directories lower-case)."""
    return [f"{root}/{model}/{g.lower()}/{name}" for g in gpus for name in PROFILE_FILES]
