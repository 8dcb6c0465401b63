"""Predicted profiles: the analytic model evaluated on the artifact's grids and written in store format.

A predicted profile directory looks exactly like a measured one (``prompt.csv``, ``decode.csv``,
``meta.json``); its meta says ``source: predicted``, the machine's datasheet figures and where they
came from, and the fit (efficiencies, the (model, GPU) pairs it was trained on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from helix.models import ModelSpec
from helix.profiles.cost import (
    DECODE_CONTEXT,
    DECODE_GRID,
    PROMPT_GRID,
    PROMPT_SEQ_LEN,
    FitParams,
    predict_times,
)
from helix.profiles.fit import FitResult
from helix.profiles.gpu_specs import GpuSpec
from helix.profiles.measured import check_times
from helix.profiles.store import LayerProfile, ProfileTable, write_profile


def predicted_profile(
    spec: ModelSpec,
    model: str,
    machine: GpuSpec,
    params: FitParams,
    prompt_grid: Iterable[int] = PROMPT_GRID,
    decode_grid: Iterable[int] = DECODE_GRID,
) -> LayerProfile:
    """A ``LayerProfile`` (store format, seconds) predicted on the artifact's grids."""
    gpu = machine.name
    tables = {}
    for phase, grid in (("prompt", tuple(prompt_grid)), ("decode", tuple(decode_grid))):
        ys = tuple(float(v) for v in predict_times(spec, machine, phase, grid, params))
        check_times(f"predicted {model}/{gpu}/{phase}", grid, ys, rel_tol=0.0)
        tables[phase] = ProfileTable(grid, ys, f"predicted:{model}/{gpu}/{phase}")
    return LayerProfile(model, gpu, tables["prompt"], tables["decode"])


def write_predicted(
    out_dir: str | Path, spec: ModelSpec, model: str, machine: GpuSpec, fit_result: FitResult, **meta_extra
) -> Path:
    """Write a predicted profile directory with meta.json ``source: predicted`` and the fit."""
    prof = predicted_profile(spec, model, machine, fit_result.params)
    m = machine
    meta = {
        "source": "predicted",
        "units": "seconds per layer",
        "method": "helix.profiles.cost roofline (FLOPs and bytes vs datasheet peaks, fitted efficiencies)",
        "gpu_spec": {
            "peak_flops": m.peak_flops,
            "mem_bw": m.mem_bw,
            "mem_bytes": m.mem_bytes,
            "num_gpus": m.num_gpus,
            "interconnect_bw": m.interconnect_bw,
            "source": m.source,
        },
        "decode_context": DECODE_CONTEXT,
        "prompt_seq_len": PROMPT_SEQ_LEN,
        "fit": fit_result.as_dict(),
        **meta_extra,
    }
    write_profile(out_dir, prof, meta)
    return Path(out_dir)
