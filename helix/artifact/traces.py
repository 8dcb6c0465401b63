"""Workload traces: the Azure Conversation length pairs and per-window arrival counts.

The artifact ships them as pickles (``simulator/trace_generator/length_data/azure_conv_{input,output}.pkl``,
``arrival_rate/azure_conv_arrive_time.pkl``). Unpickling can execute code, so they are read once,
only from the pinned artifact (each file's SHA-256 must match the pinned commit's), with an
unpickler that refuses every global (a list of ints needs none), and converted into the project's
own formats; everything downstream reads only those:

    resources/traces/azure_conv_lengths.parquet   columns input, output (16 657 rows, trace order)
    resources/traces/azure_conv_arrivals.csv      column count (1 200 rows, requests per 3-s window)
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from helix.errors import HelixInputError
from helix.io import atomic_path, write_text

LENGTH_FILES = {
    "input": "simulator/trace_generator/length_data/azure_conv_input.pkl",
    "output": "simulator/trace_generator/length_data/azure_conv_output.pkl",
}
ARRIVAL_FILE = "simulator/trace_generator/arrival_rate/azure_conv_arrive_time.pkl"
# SHA-256 of the files at the pinned artifact commit (helix.config.schema.ARTIFACT_COMMIT).
PINNED_SHA256 = {
    LENGTH_FILES["input"]: "090770d895fe96d733f4c1d2e0068b5d391f565f25d05841077063c0c344c92f",
    LENGTH_FILES["output"]: "4d42ec92d42a36cdf647af81fc5f7f8627ff4c21bddee24902f25d013dbadd82",
    ARRIVAL_FILE: "1ae6dec376d39a7c9fa7ed8239cf5b10b5349b540697c94df8d1d1055b35f2a3",
}
WINDOW_SECONDS = 3  # each arrival count covers one 3-s window
LENGTHS_NAME = "azure_conv_lengths.parquet"
ARRIVALS_NAME = "azure_conv_arrivals.csv"
_MAX_PICKLE_BYTES = 16 * 1024 * 1024


class _IntListUnpickler(pickle.Unpickler):
    """Builds only what plain opcodes can (lists, ints); any class or function lookup is refused."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent ids")


def load_int_list_pickle(path: str | Path) -> list[int]:
    """A pickled list of ints, loaded without ever resolving a global; anything else is an error."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "trace file not found")
    data = path.read_bytes()
    if len(data) > _MAX_PICKLE_BYTES:
        raise HelixInputError(path, None, "trace pickle is unexpectedly large", len(data))
    try:
        obj = _IntListUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # any unpickling failure is bad input here
        raise HelixInputError(path, None, f"not a plain pickled list of ints: {exc}") from None
    if type(obj) is not list or not all(type(v) is int for v in obj):
        raise HelixInputError(path, None, "not a plain pickled list of ints", type(obj).__name__)
    return obj


def _pinned(artifact_dir: str | Path, rel: str) -> list[int]:
    path = Path(artifact_dir) / rel
    if not path.is_file():
        raise HelixInputError(path, None, "artifact trace file not found")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != PINNED_SHA256[rel]:
        raise HelixInputError(
            path, "sha256", "not the pinned artifact's file; refusing to unpickle it", digest
        )
    return load_int_list_pickle(path)


def read_artifact_lengths(artifact_dir: str | Path) -> pd.DataFrame:
    """(input, output) length pairs from the pinned artifact, in trace order."""
    inp = _pinned(artifact_dir, LENGTH_FILES["input"])
    out = _pinned(artifact_dir, LENGTH_FILES["output"])
    if len(inp) != len(out):
        raise HelixInputError(
            Path(artifact_dir) / LENGTH_FILES["output"],
            None,
            f"length lists differ in size (input has {len(inp)})",
            len(out),
        )
    return _lengths_frame(np.asarray(inp, dtype=np.int64), np.asarray(out, dtype=np.int64), artifact_dir)


def read_artifact_arrivals(artifact_dir: str | Path) -> pd.DataFrame:
    counts = np.asarray(_pinned(artifact_dir, ARRIVAL_FILE), dtype=np.int64)
    if (counts < 0).any():
        raise HelixInputError(
            Path(artifact_dir) / ARRIVAL_FILE, None, "negative arrival count", int(counts.min())
        )
    return pd.DataFrame({"count": counts})


def _lengths_frame(inp: np.ndarray, out: np.ndarray, source) -> pd.DataFrame:
    if len(inp) == 0:
        raise HelixInputError(source, None, "empty length trace")
    if (inp <= 0).any() or (out <= 0).any():
        raise HelixInputError(source, None, "lengths must be positive")
    return pd.DataFrame({"input": inp, "output": out})


def import_traces(artifact_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Convert the artifact pickles into ``out_dir``/{lengths parquet, arrivals csv}, atomically."""
    if not Path(artifact_dir).is_dir():
        raise HelixInputError(artifact_dir, None, "artifact directory not found")
    lengths = read_artifact_lengths(artifact_dir)
    arrivals = read_artifact_arrivals(artifact_dir)
    out_dir = Path(out_dir)
    paths = {"lengths": out_dir / LENGTHS_NAME, "arrivals": out_dir / ARRIVALS_NAME}
    write_lengths(paths["lengths"], lengths)
    write_text(paths["arrivals"], arrivals.to_csv(index=False))
    return paths


def write_lengths(path: str | Path, lengths: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        lengths[["input", "output"]].to_parquet(tmp, index=False, engine="pyarrow")


def load_lengths(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(input, output) int64 arrays, paired by index, from the project's lengths Parquet."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "length trace not found")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise HelixInputError(path, None, f"not a readable Parquet file: {exc}") from None
    missing = [c for c in ("input", "output") if c not in df.columns]
    if missing:
        raise HelixInputError(path, "columns", "missing column(s)", missing)
    df = _lengths_frame(df["input"].to_numpy(np.int64), df["output"].to_numpy(np.int64), path)
    return df["input"].to_numpy(), df["output"].to_numpy()


def load_lengths_frame(path: str | Path) -> pd.DataFrame:
    inp, out = load_lengths(path)
    return pd.DataFrame({"input": inp, "output": out})


def load_arrivals(path: str | Path) -> np.ndarray:
    """Requests per 3-s window (int64 array) from the project's arrivals CSV."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "arrival trace not found")
    df = pd.read_csv(path)
    if "count" not in df.columns:
        raise HelixInputError(path, "columns", "missing column 'count'", list(df.columns))
    counts = df["count"]
    if counts.isna().any() or (counts < 0).any() or not np.issubdtype(counts.dtype, np.integer):
        raise HelixInputError(path, "count", "counts must be non-negative integers")
    return counts.to_numpy(np.int64)
