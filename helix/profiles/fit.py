"""Fitting the analytic model's efficiencies on measured profiles, and leave-one-GPU-type-out validation.

The fit sees every non-zero grid point of the measured (model, GPU) profiles and minimises relative
error; the validation refits without one GPU type and predicts it, which says how far to trust a
prediction for a GPU nobody measured. The artifact's two models are described here by their shapes
(``PAPER_MODELS``) because the fit runs on the artifact alone, before any config is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from helix.errors import HelixInputError
from helix.models import ModelSpec
from helix.profiles.cost import (
    DECODE_CONTEXT,
    PROMPT_SEQ_LEN,
    FitParams,
    layer_cost,
    predict_times,
    time_from_cost,
)
from helix.profiles.gpu_specs import machine_spec
from helix.profiles.measured import check_times

# Shapes from the HF config.json files of the artifact (the public model cards); the hand-set
# per-layer byte counts are the paper's (docs/design/placement.md s1).
PAPER_MODELS: dict[str, ModelSpec] = {
    "llama70b": ModelSpec(
        "llama70b", 80, 8192, 64, 8, 28672, 32000, 2, param_bytes_per_layer_override=1.53e9
    ),
    "llama30b": ModelSpec(
        "llama30b", 60, 6656, 52, 52, 17920, 32000, 2, param_bytes_per_layer_override=1.0e9
    ),
}


@dataclass
class Sample:
    """Measured points of one (model, GPU, phase): what the fit sees."""

    model: str
    gpu: str
    phase: str
    tokens: np.ndarray
    seconds: np.ndarray


@dataclass
class FitResult:
    params: FitParams
    trained_on: list[str]  # "model/gpu" pairs
    n_points: int
    cost: float  # final least-squares cost
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "params": self.params.as_dict(),
            "trained_on": self.trained_on,
            "n_points": self.n_points,
            "cost": self.cost,
            "decode_context": DECODE_CONTEXT,
            "prompt_seq_len": PROMPT_SEQ_LEN,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "FitResult":
        """A fit file (``as_dict``) read back; extra keys are kept in ``extra``."""
        known = ("params", "trained_on", "n_points", "cost", "decode_context", "prompt_seq_len")
        return cls(
            FitParams(**data["params"]),
            list(data["trained_on"]),
            int(data["n_points"]),
            float(data["cost"]),
            {k: v for k, v in data.items() if k not in known},
        )


def samples_from_store(store, models: Iterable[str], gpus: Iterable[str]) -> list[Sample]:
    """Every non-zero grid point of the stored profiles, checked by ``check_times``."""
    out = []
    for model in models:
        for gpu in gpus:
            prof = store.get(model, gpu)
            for phase in ("prompt", "decode"):
                table = getattr(prof, phase)
                check_times(table.path or f"{model}/{gpu}/{phase}", table.tokens, table.seconds)
                x = np.asarray(table.tokens[1:], dtype=float)
                y = np.asarray(table.seconds[1:], dtype=float)
                keep = y > 0
                out.append(Sample(model, gpu, phase, x[keep], y[keep]))
    return out


_LOWER = np.array([0.01, 0.01, 0.01, 0.0, 1e8, 0.0, 0.0])
_UPPER = np.array([1.0, 1.0, 1.0, 5e-3, 1e12, 5e-3, 2000.0])


def fit(samples: list[Sample], specs: Mapping[str, ModelSpec], start: FitParams | None = None) -> FitResult:
    """Least squares on relative error (pred / measured - 1) over every sample point.

    Each (model, GPU, phase) sample is weighted equally regardless of its grid length, so a long
    decode grid does not outvote a short prompt grid. Efficiencies are bounded to (0, 1].
    """
    from scipy.optimize import least_squares

    if not samples:
        raise HelixInputError(None, "samples", "nothing to fit: no measured profiles")
    for s in samples:
        if s.model not in specs:
            raise HelixInputError(None, "model", "no model spec for a measured profile", s.model)
    # Precompute costs once; the time model is cheap given them.
    prepared = []
    for s in samples:
        m = machine_spec(s.gpu)
        costs = [layer_cost(specs[s.model], s.phase, x) for x in s.tokens]
        prepared.append((m, costs, s.seconds, 1.0 / math.sqrt(len(s.tokens))))

    def residuals(v: np.ndarray) -> np.ndarray:
        p = FitParams.from_vector(v)
        out = []
        for m, costs, y, w in prepared:
            pred = np.array([time_from_cost(c, m, p) for c in costs])
            out.append(w * (pred / y - 1.0))
        return np.concatenate(out)

    x0 = np.clip((start or FitParams()).vector(), _LOWER + 1e-9, _UPPER - 1e-9)
    res = least_squares(residuals, x0, bounds=(_LOWER, _UPPER), loss="soft_l1", f_scale=0.1, x_scale="jac")
    pairs = sorted({f"{s.model}/{s.gpu}" for s in samples})
    return FitResult(
        FitParams.from_vector(res.x), pairs, int(sum(len(s.tokens) for s in samples)), float(res.cost)
    )


def fit_artifact(artifact_dir: str | Path, gpus: Iterable[str] | None = None) -> FitResult:
    """Fit on the artifact's measured profiles (both paper models) of ``gpus`` (default: all)."""
    from helix.profiles.store import ARTIFACT_GPU_TYPES, ProfileStore

    store = ProfileStore.from_artifact(artifact_dir)
    return fit(samples_from_store(store, PAPER_MODELS, gpus or ARTIFACT_GPU_TYPES), PAPER_MODELS)


# ---- leave-one-GPU-type-out validation ---------------------------------------------------------------

VALIDATION_COLUMNS = ("gpu", "model", "phase", "median_rel_err", "p90_rel_err", "n_points")


def leave_one_out(
    artifact_dir: str | Path,
    gpus: Iterable[str] | None = None,
    models: Iterable[str] = ("llama70b", "llama30b"),
):
    """For each GPU type: fit on the other types (both models), predict this one.

    Returns (table, points): one row per (gpu, model, phase) with the median and 90th percentile
    of |pred / measured - 1| over the grid points (0-token row excluded); and every point
    (gpu, model, phase, tokens, measured_s, predicted_s) for the plot.
    """
    import pandas as pd

    from helix.profiles.store import ARTIFACT_GPU_TYPES, ProfileStore

    store = ProfileStore.from_artifact(artifact_dir)
    models = list(models)
    for m in models:
        if m not in PAPER_MODELS:
            raise HelixInputError(
                None, "models", f"no artifact profiles for this model (known: {sorted(PAPER_MODELS)})", m
            )
    specs = {m: PAPER_MODELS[m] for m in models}
    gpus = list(gpus or ARTIFACT_GPU_TYPES)
    if len(gpus) < 2:
        raise HelixInputError(None, "gpus", "leave-one-out needs at least two GPU types", gpus)
    samples = samples_from_store(store, models, gpus)
    rows, points = [], []
    for gpu in gpus:
        result = fit([s for s in samples if s.gpu != gpu], specs)
        for s in (s for s in samples if s.gpu == gpu):
            pred = predict_times(specs[s.model], s.gpu, s.phase, s.tokens, result.params)
            err = np.abs(pred / s.seconds - 1.0)
            rows.append(
                {
                    "gpu": gpu,
                    "model": s.model,
                    "phase": s.phase,
                    "median_rel_err": round(float(np.median(err)), 4),
                    "p90_rel_err": round(float(np.quantile(err, 0.9)), 4),
                    "n_points": int(len(err)),
                }
            )
            points += [
                {
                    "gpu": gpu,
                    "model": s.model,
                    "phase": s.phase,
                    "tokens": int(x),
                    "measured_s": float(y),
                    "predicted_s": float(p),
                }
                for x, y, p in zip(s.tokens, s.seconds, pred)
            ]
    return pd.DataFrame(rows, columns=list(VALIDATION_COLUMNS)), pd.DataFrame(points)
