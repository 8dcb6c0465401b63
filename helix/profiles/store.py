"""Per-layer execution-time profiles: one table per (model, GPU type), looked up by batch tokens.

Every consumer (typical throughput, placement capacities, the simulator) needs the same question
answered: "how long does one layer of model M take on GPU T for a batch of x prompt (or decode)
tokens?". The answer comes from a measured grid interpolated exactly as the reference simulator does
(docs/design/simulator.md s2.4), so numbers computed here match the paper's LP coefficients to the last digit.

The project's own on-disk format is deliberately plain so that measured or predicted profiles drop in
next to the artifact's::

    resources/profiles/<model>/<gpu-lower>/prompt.csv   header "tokens,seconds", first row 0,0
    resources/profiles/<model>/<gpu-lower>/decode.csv   same
    resources/profiles/<model>/<gpu-lower>/meta.json    {"source": "artifact"|"measured"|"predicted", ...}

The artifact keeps the same grids in milliseconds without a header
(``simulator/model_manager/<llama2_70b|llama1_30b>/<gpu>/{prompt,decode}_bs2time.csv``);
``ProfileStore.from_artifact`` reads those directly and ``import_profiles`` converts them.

Times are not required to be monotone in tokens: the artifact's measured grids contain small
dips (noise, e.g. llama2_70b/a100 decode 2.5 ms at 100 tokens then 2.0 ms at 120), and the reference
uses them as they are. The token grid itself must be strictly increasing and start at 0.
"""

from __future__ import annotations

import bisect
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from helix.errors import HelixInputError
from helix.io import write_json, write_text

# Project model name -> artifact directory under simulator/model_manager/.
ARTIFACT_MODEL_DIRS = {"llama70b": "llama2_70b", "llama30b": "llama1_30b"}
# GPU type names as in config; profile directories are their lower-case forms.
ARTIFACT_GPU_TYPES = ("A100", "V100", "L4", "L4x2", "T4", "T4x2", "T4x4")
PHASES = ("prompt", "decode")
SOURCES = ("artifact", "measured", "predicted")
HEADER = ("tokens", "seconds")


def gpu_dir(gpu: str) -> str:
    """Directory name of a GPU type (``L4x2`` -> ``l4x2``)."""
    return gpu.lower()


@dataclass(frozen=True)
class ProfileTable:
    """One measured grid: seconds for one layer at each batch size (tokens), strictly increasing."""

    tokens: tuple[int, ...]
    seconds: tuple[float, ...]
    path: str = field(default="", compare=False)
    _x: np.ndarray = field(init=False, repr=False, compare=False)
    _y: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.seconds) or len(self.tokens) < 2:
            raise HelixInputError(self.path or None, "rows", "a profile needs at least two rows")
        if self.tokens[0] != 0 or self.seconds[0] != 0:
            raise HelixInputError(
                self.path or None, "entry 1", "the first row must be 0,0", (self.tokens[0], self.seconds[0])
            )
        for i in range(1, len(self.tokens)):
            if self.tokens[i] <= self.tokens[i - 1]:
                raise HelixInputError(
                    self.path or None,
                    f"entry {i + 1}",
                    f"tokens must be strictly increasing (previous {self.tokens[i - 1]})",
                    self.tokens[i],
                )
            if not self.seconds[i] >= 0 or not np.isfinite(self.seconds[i]):
                raise HelixInputError(
                    self.path or None,
                    f"entry {i + 1}",
                    "time must be a finite non-negative number",
                    self.seconds[i],
                )
        object.__setattr__(self, "_x", np.asarray(self.tokens, dtype=np.float64))
        object.__setattr__(self, "_y", np.asarray(self.seconds, dtype=np.float64))

    @property
    def max_tokens(self) -> int:
        return self.tokens[-1]

    def __call__(self, x: float) -> float:
        """Seconds for a batch of ``x`` tokens (docs/design/simulator.md s2.4 lookup)."""
        if x < 0 or x > self.tokens[-1]:
            raise HelixInputError(
                self.path or None, "tokens", f"batch outside the profiled grid [0, {self.tokens[-1]}]", x
            )
        hi = bisect.bisect_left(self.tokens, x)  # smallest grid point >= x
        if self.tokens[hi] == x:
            return self.seconds[hi]
        lo = hi - 1  # largest grid point <= x (strictly below here)
        x0, x1 = self.tokens[lo], self.tokens[hi]
        y0, y1 = self.seconds[lo], self.seconds[hi]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def many(self, xs: Iterable[float] | np.ndarray) -> np.ndarray:
        """Vectorised ``__call__``; same formula, so results equal the scalar lookup."""
        x = np.asarray(xs, dtype=np.float64)
        if x.size and (x.min() < 0 or x.max() > self._x[-1]):
            bad = x[(x < 0) | (x > self._x[-1])][0]
            raise HelixInputError(
                self.path or None,
                "tokens",
                f"batch outside the profiled grid [0, {self.tokens[-1]}]",
                float(bad),
            )
        hi = np.searchsorted(self._x, x, side="left")
        exact = self._x[hi] == x
        lo = np.maximum(hi - 1, 0)
        x0, x1, y0, y1 = self._x[lo], self._x[hi], self._y[lo], self._y[hi]
        with np.errstate(invalid="ignore", divide="ignore"):
            interp = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return np.where(exact, self._y[hi], interp)


@dataclass(frozen=True)
class LayerProfile:
    """Per-layer prompt and decode time of one model on one GPU type, in seconds."""

    model: str
    gpu: str
    prompt: ProfileTable
    decode: ProfileTable
    meta: dict = field(default_factory=dict, compare=False)

    def prompt_time(self, tokens: float) -> float:
        return self.prompt(tokens)

    def decode_time(self, tokens: float) -> float:
        return self.decode(tokens)

    def prompt_times(self, tokens) -> np.ndarray:
        return self.prompt.many(tokens)

    def decode_times(self, tokens) -> np.ndarray:
        return self.decode.many(tokens)


# ---- reading and writing tables --------------------------------------------------------------------


def _parse_rows(path: Path, rows: list[list[str]], first_line: int) -> tuple[list[int], list[float]]:
    tokens: list[int] = []
    values: list[float] = []
    for i, row in enumerate(rows):
        rowno = first_line + i
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise HelixInputError(path, f"line {rowno}", "expected two columns tokens,time", ",".join(row))
        try:
            t = float(row[0])
            v = float(row[1])
        except ValueError:
            raise HelixInputError(path, f"line {rowno}", "not a number", ",".join(row)) from None
        if t != int(t) or t < 0:
            raise HelixInputError(path, f"line {rowno}", "tokens must be a non-negative integer", row[0])
        if not np.isfinite(v) or v < 0:
            raise HelixInputError(path, f"line {rowno}", "time must be a finite non-negative number", row[1])
        if tokens and int(t) <= tokens[-1]:
            raise HelixInputError(
                path, f"line {rowno}", f"tokens must be strictly increasing (previous {tokens[-1]})", row[0]
            )
        if not tokens and (int(t), v) != (0, 0):
            raise HelixInputError(path, f"line {rowno}", "the first row must be 0,0", ",".join(row))
        tokens.append(int(t))
        values.append(v)
    return tokens, values


def _read_csv(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise HelixInputError(path, None, "profile file not found")
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def read_project_table(path: str | Path) -> ProfileTable:
    """A project CSV (header ``tokens,seconds``, seconds)."""
    path = Path(path)
    rows = _read_csv(path)
    if not rows or tuple(c.strip() for c in rows[0]) != HEADER:
        raise HelixInputError(
            path, "header", "expected header 'tokens,seconds'", ",".join(rows[0]) if rows else ""
        )
    tokens, seconds = _parse_rows(path, rows[1:], first_line=2)
    return ProfileTable(tuple(tokens), tuple(seconds), str(path))


def read_artifact_table(path: str | Path) -> ProfileTable:
    """An artifact ``*_bs2time.csv`` (no header, milliseconds), converted to seconds."""
    path = Path(path)
    tokens, ms = _parse_rows(path, _read_csv(path), first_line=1)
    return ProfileTable(tuple(tokens), tuple(v * 1e-3 for v in ms), str(path))


def table_csv(table: ProfileTable) -> str:
    """Project CSV text; ``repr`` floats so a read-back gives the identical table."""
    lines = [",".join(HEADER)] + [
        f"{t},{s!r}" if s else f"{t},0" for t, s in zip(table.tokens, table.seconds)
    ]
    return "\n".join(lines) + "\n"


def write_profile(out_dir: str | Path, profile: LayerProfile, meta: dict) -> None:
    """Write one profile directory (prompt.csv, decode.csv, meta.json), each file atomically."""
    if meta.get("source") not in SOURCES:
        raise HelixInputError(None, "meta.source", f"must be one of {list(SOURCES)}", meta.get("source"))
    out_dir = Path(out_dir)
    write_text(out_dir / "prompt.csv", table_csv(profile.prompt))
    write_text(out_dir / "decode.csv", table_csv(profile.decode))
    write_json(out_dir / "meta.json", {"model": profile.model, "gpu": profile.gpu, **meta})


# ---- the store ---------------------------------------------------------------------------------------


class ProfileStore:
    """Profiles of every (model, GPU) pair, loaded lazily and cached.

    ``ProfileStore(root)`` reads the project layout ``root/<model>/<gpu-lower>/``;
    ``ProfileStore.from_artifact(dir)`` reads the artifact's model_manager tables directly.
    """

    def __init__(self, root: str | Path, *, _artifact: bool = False) -> None:
        self.root = Path(root)
        self._artifact = _artifact
        self._cache: dict[tuple[str, str], LayerProfile] = {}
        if not self.root.is_dir():
            what = "artifact profile directory" if _artifact else "profile directory"
            raise HelixInputError(self.root, None, f"{what} not found")

    @classmethod
    def from_artifact(cls, artifact_dir: str | Path) -> "ProfileStore":
        artifact_dir = Path(artifact_dir)
        if not artifact_dir.is_dir():
            raise HelixInputError(artifact_dir, None, "artifact directory not found")
        root = artifact_dir / "simulator" / "model_manager"
        if not root.is_dir():
            raise HelixInputError(root, None, "artifact lacks the profile directory")
        return cls(root, _artifact=True)

    @property
    def source(self) -> str:
        return "artifact" if self._artifact else "project"

    def profile_dir(self, model: str, gpu: str) -> Path:
        if self._artifact:
            if model not in ARTIFACT_MODEL_DIRS:
                raise HelixInputError(
                    self.root,
                    "model",
                    f"no artifact profiles for this model (known: {sorted(ARTIFACT_MODEL_DIRS)})",
                    model,
                )
            return self.root / ARTIFACT_MODEL_DIRS[model] / gpu_dir(gpu)
        return self.root / model / gpu_dir(gpu)

    def has(self, model: str, gpu: str) -> bool:
        try:
            d = self.profile_dir(model, gpu)
        except HelixInputError:
            return False
        names = (
            ("prompt_bs2time.csv", "decode_bs2time.csv") if self._artifact else ("prompt.csv", "decode.csv")
        )
        return all((d / n).is_file() for n in names)

    def pairs(self) -> list[tuple[str, str]]:
        """(model, GPU type) pairs this store holds, sorted; GPU names as in config where known."""
        found = []
        if self._artifact:
            for model, sub in ARTIFACT_MODEL_DIRS.items():
                for d in sorted((self.root / sub).glob("*")) if (self.root / sub).is_dir() else []:
                    if self.has(model, d.name):
                        found.append((model, canonical_gpu(d.name)))
        else:
            for meta in sorted(self.root.glob("*/*/meta.json")):
                model, gpu = meta.parent.parent.name, meta.parent.name
                try:
                    gpu = json.loads(meta.read_text()).get("gpu", gpu)
                except json.JSONDecodeError:
                    pass
                if self.has(model, gpu):
                    found.append((model, canonical_gpu(gpu)))
        return sorted(found)

    def get(self, model: str, gpu: str) -> LayerProfile:
        key = (model, gpu)
        if key not in self._cache:
            self._cache[key] = self._load(model, gpu)
        return self._cache[key]

    def _load(self, model: str, gpu: str) -> LayerProfile:
        d = self.profile_dir(model, gpu)
        if not d.is_dir():
            raise HelixInputError(d, None, f"no profile for model {model!r} on GPU {gpu!r}")
        if self._artifact:
            prompt = read_artifact_table(d / "prompt_bs2time.csv")
            decode = read_artifact_table(d / "decode_bs2time.csv")
            meta = {"source": "artifact"}
        else:
            prompt = read_project_table(d / "prompt.csv")
            decode = read_project_table(d / "decode.csv")
            meta = self._read_meta(d / "meta.json")
        return LayerProfile(model, gpu, prompt, decode, meta)

    @staticmethod
    def _read_meta(path: Path) -> dict:
        if not path.is_file():
            raise HelixInputError(path, None, "profile meta.json not found")
        try:
            meta = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise HelixInputError(path, None, f"not valid JSON: {exc.msg}") from None
        if not isinstance(meta, dict) or meta.get("source") not in SOURCES:
            raise HelixInputError(
                path,
                "source",
                f"must be one of {list(SOURCES)}",
                meta.get("source") if isinstance(meta, dict) else meta,
            )
        return meta


# ---- artifact import ---------------------------------------------------------------------------------


def artifact_commit(artifact_dir: str | Path) -> str | None:
    path = Path(artifact_dir) / "COMMIT"
    return path.read_text().strip() if path.is_file() else None


def canonical_gpu(name: str) -> str:
    """Config type name of a profile directory name (``l4x2`` -> ``L4x2``); unknown names unchanged."""
    for gpu in ARTIFACT_GPU_TYPES:
        if gpu.lower() == name.lower():
            return gpu
    return name


def _artifact_profile(
    store: ProfileStore, artifact_dir: Path, model: str, gpu: str
) -> tuple[LayerProfile, dict]:
    """One artifact profile plus the meta.json that records where it came from."""
    profile = store.get(model, gpu)
    d = store.profile_dir(model, gpu)
    files = [str(p.relative_to(artifact_dir)) for p in (d / "prompt_bs2time.csv", d / "decode_bs2time.csv")]
    meta = {
        "source": "artifact",
        "artifact_commit": artifact_commit(artifact_dir),
        "artifact_files": files,
        "units": "seconds per layer",
    }
    return profile, meta


def import_profile(artifact_dir: str | Path, model: str, gpu: str, out_dir: str | Path) -> Path:
    """Convert one (model, GPU) pair of the artifact into the project format at ``out_dir``."""
    artifact_dir = Path(artifact_dir)
    profile, meta = _artifact_profile(ProfileStore.from_artifact(artifact_dir), artifact_dir, model, gpu)
    write_profile(out_dir, profile, meta)
    return Path(out_dir)


def import_profiles(
    artifact_dir: str | Path,
    out_root: str | Path,
    models: Iterable[str] | None = None,
    gpus: Iterable[str] | None = None,
) -> list[Path]:
    """Convert the artifact's ms tables into the project's CSVs under ``out_root/<model>/<gpu>/``.

    Everything is read and validated before anything is written, so a bad or missing file leaves
    no partial output; each file is then written atomically. Returns the directories written.
    """
    artifact_dir = Path(artifact_dir)
    store = ProfileStore.from_artifact(artifact_dir)
    models = list(models) if models is not None else list(ARTIFACT_MODEL_DIRS)
    gpus = list(gpus) if gpus is not None else list(ARTIFACT_GPU_TYPES)
    loaded = [_artifact_profile(store, artifact_dir, m, g) for m in models for g in gpus]
    written = []
    for profile, meta in loaded:
        out = Path(out_root) / profile.model / gpu_dir(profile.gpu)
        write_profile(out, profile, meta)
        written.append(out)
    return written
