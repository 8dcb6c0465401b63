"""One prototype run end to end: system config, workers, host, outputs (events, routes, metrics).

Outputs in ``out_dir`` (all written atomically, none on failure to start):
``events.csv`` (the paper's event fields), ``routes.csv`` (one row per request: nodes, machines,
per-stage layer ranges, status), ``tokens.csv`` (prompt and generated token ids, for equality
checks), ``metrics.json`` (the parser's metrics of ``events.csv``, same keys as the simulator),
``system_config.yaml`` (without the MAC keys) and ``run.json`` (failures, drops, dead workers; no
wall times). ``resolve_model`` is shared with the serving deployment (``helix.prototype.serving``):
with a checkpoint, every worker's tensors are checked (headers only) before any worker starts.
"""

from __future__ import annotations

import csv
import io
import signal
from pathlib import Path

from helix.cluster import Cluster
from helix.io import write_json, write_text
from helix.layout import Layout
from helix.prototype.host import Host, StartupError, checked_lengths, log_stderr
from helix.prototype.launch import LocalLauncher, RayLauncher
from helix.prototype.logparse import parse_logs, write_events_csv
from helix.prototype.model import LlamaConfig
from helix.prototype.routing import check_scheduler
from helix.prototype.settings import ProtoRunSpec
from helix.prototype.sysconfig import build_system_config

__all__ = ["run_prototype", "StartupError"]


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def resolve_model(
    layout: Layout, model_config: str | Path | None, checkpoint: str | Path | None, name: str
) -> tuple[LlamaConfig, str]:
    """The model of a run and the config.json path workers read; with a checkpoint, every placed
    range's tensors are checked against config.json here, before anything starts."""
    from helix.errors import HelixInputError

    if checkpoint:
        from helix.prototype.checkpoint import check_checkpoint_ranges

        ck = check_checkpoint_ranges(checkpoint, sorted(set(layout.used().values())), layout.num_layers, name)
        return ck.config, str(Path(checkpoint) / "config.json")
    if not model_config:
        raise HelixInputError(
            "prototype", "model_config", "a model config.json or a checkpoint directory is needed"
        )
    model = LlamaConfig.from_json(model_config, name)
    if model.num_layers != layout.num_layers:
        raise HelixInputError(
            model_config, "num_hidden_layers", f"layout has {layout.num_layers} layers", model.num_layers
        )
    return model, str(model_config)


def check_local_device(spec: ProtoRunSpec) -> None:
    """Local workers share this machine's device: a dtype it cannot run is an error before any starts."""
    if spec.launcher == "local":
        from helix.prototype.engines.torch_engine import DTYPES, check_device_dtype

        check_device_dtype(spec.device, DTYPES[spec.dtype])
        if not str(spec.device).startswith(("cpu", "cuda")):
            from helix.errors import HelixInputError

            raise HelixInputError("prototype", "device", "cpu or cuda[:N]", spec.device)


def run_prototype(
    layout: Layout,
    model_config: str | Path | None,
    spec: ProtoRunSpec,
    out_dir: str | Path,
    lengths: tuple,
    arrivals=None,
    cluster: Cluster | None = None,
    base_port: int | None = None,
    log=log_stderr,
    on_serving=None,
    checkpoint: str | Path | None = None,
) -> dict:
    """Serve ``spec.duration_s`` seconds and write the outputs; returns the metrics.

    ``on_serving(pids)`` (optional) is called once every worker is ready, with the local worker
    process ids: fault-injection tests use it to kill one mid-run. ``checkpoint``: a HF checkpoint
    directory (its config.json replaces ``model_config``; weights are read from it).
    """
    check_scheduler(spec.scheduler)
    out_dir = Path(out_dir)
    model, model_config = resolve_model(layout, model_config, checkpoint, spec.model)
    checked_lengths(lengths, spec, model.max_position)  # before anything starts
    check_local_device(spec)
    cfg = build_system_config(layout, cluster, base_port=base_port)
    work = out_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    if spec.launcher == "ray":
        launcher = RayLauncher(cfg, str(model_config), spec.model, spec, checkpoint=checkpoint)
    cfg_path = work / "system_config.yaml"
    cfg.save(cfg_path)
    host = Host(cfg, spec, model.vocab_size, lengths, arrivals, log=log, max_position=model.max_position)
    if spec.launcher == "local":
        launcher = LocalLauncher(
            cfg, str(cfg_path), str(model_config), spec.model, spec, work, checkpoint=checkpoint
        )
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # snakemake / ray stop us with SIGTERM
    try:
        host.wait_ready(spec.startup_timeout_s, launcher.alive, getattr(launcher, "last_line", None))
        if on_serving is not None:
            on_serving(launcher.pids() if hasattr(launcher, "pids") else {})
        stats = host.run(launcher.alive)
    finally:
        signal.signal(signal.SIGTERM, previous)
        host.stop()
        codes = launcher.shutdown()
        host.close()
    stats["worker_exit_codes"] = {str(k): v for k, v in codes.items()}
    write_events_csv(out_dir / "events.csv", host.events)
    write_text(out_dir / "routes.csv", _csv(host.route_rows()))
    write_text(out_dir / "tokens.csv", _csv(host.token_rows()))
    cfg.save(out_dir / "system_config.yaml", public=True)
    metrics = parse_logs([out_dir / "events.csv"], warmup_s=spec.warmup_s, end_s=spec.duration_s)
    metrics["failed_requests"] = stats["failed"]
    write_json(out_dir / "run.json", {k: v for k, v in stats.items() if k != "wall_end_s"})
    write_json(out_dir / "metrics.json", metrics)
    write_json(out_dir / "meta.json", run_meta(spec, model))
    return metrics


def write_serving_outputs(
    out_dir: Path, cfg, events: list, rows: tuple, stats: dict, spec: ProtoRunSpec, model: LlamaConfig
) -> None:
    """What an endpoint session leaves behind (same files as a workload run, metrics over all of it)."""
    write_events_csv(out_dir / "events.csv", events)
    write_text(out_dir / "routes.csv", _csv(rows[0]))
    write_text(out_dir / "tokens.csv", _csv(rows[1]))
    cfg.save(out_dir / "system_config.yaml", public=True)
    write_json(out_dir / "run.json", {k: v for k, v in stats.items() if k != "duration_s"})
    if any(e[2] == "in" for e in events):
        write_json(
            out_dir / "metrics.json",
            parse_logs([out_dir / "events.csv"], warmup_s=0.0, end_s=max(e[0] for e in events) + 1),
        )
    write_json(out_dir / "meta.json", run_meta(spec, model))


def run_meta(spec: ProtoRunSpec, model: LlamaConfig) -> dict:
    """meta.json: the resolved run settings, the model shape, package versions, git revision."""
    from helix.provenance import provenance

    prov = provenance(("torch", "pyzmq", "numpy"))
    return {"spec": spec.model_dump(mode="json"), "model": model.to_dict(), "seed": spec.seed, **prov}


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
