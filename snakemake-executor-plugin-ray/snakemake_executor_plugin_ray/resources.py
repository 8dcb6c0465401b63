"""Translate Snakemake job resources into Ray task options, and check that some node can run them.

Kept free of Ray and Snakemake imports so the mapping can be read (and tested) on its own.

Mapping (Snakemake standard resource names -> Ray):
  threads              -> num_cpus
  gpu=<n>              -> num_gpus=<n>
  gpu_model="<type>"   -> a custom resource naming the GPU type, in one of two styles:
      "gpu_model"        (default) resource ``gpu_model:<type>``, counted per GPU: a worker with
                         N GPUs of that type declares ``--resources='{"gpu_model:<type>": N}'`` and a
                         job with gpu=n asks for n of it.
      "accelerator_type" Ray's own label ``accelerator_type:<type>`` (set automatically on nodes whose
                         GPUs Ray detects, value 1 per node); a job asks for 0.001 of it, as Ray's
                         ``accelerator_type=`` task option does.
  mem_mb               -> memory (bytes, 1 MB = 10**6 bytes, as Snakemake's mem_mb)
Other resources (disk_mb, runtime, tmpdir, custom names) are not Ray resources and are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

GPU_MODEL_STYLES = ("gpu_model", "accelerator_type")
# What a job asks of Ray's accelerator_type:<type> label (the value Ray's own task option uses).
LABEL_AMOUNT = 0.001


class ResourceRequestError(ValueError):
    """A job's resources cannot be expressed as a Ray request (e.g. gpu_model without gpu)."""


@dataclass(frozen=True)
class RayRequest:
    num_cpus: float
    num_gpus: float = 0
    memory: int | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    gpu_model: str | None = None

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``remote_function.options(...)``."""
        opts: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}
        if self.memory:
            opts["memory"] = self.memory
        if self.resources:
            opts["resources"] = dict(self.resources)
        return opts

    def as_totals(self) -> dict[str, float]:
        """The request in the names of ``ray.nodes()[i]["Resources"]``."""
        totals: dict[str, float] = {"CPU": self.num_cpus}
        if self.num_gpus:
            totals["GPU"] = self.num_gpus
        if self.memory:
            totals["memory"] = self.memory
        totals.update(self.resources)
        return {name: amount for name, amount in totals.items() if amount}

    def describe(self) -> str:
        parts = [f"CPU={_fmt(self.num_cpus)}"]
        if self.num_gpus:
            parts.append(f"GPU={_fmt(self.num_gpus)}")
        if self.memory:
            parts.append(f"memory={self.memory / 1e6:.0f}MB")
        parts += [f"{name}={_fmt(amount)}" for name, amount in sorted(self.resources.items())]
        return ", ".join(parts)


def gpu_model_resource(style: str, model: str) -> str:
    """The Ray resource name that marks nodes having GPUs of type ``model``."""
    if style not in GPU_MODEL_STYLES:
        raise ValueError(f"unknown gpu_model resource style {style!r}; use one of {GPU_MODEL_STYLES}")
    return f"{style}:{model}"


def request_for(resources: Mapping[str, Any], threads: int, gpu_model_style: str = "gpu_model") -> RayRequest:
    """Build the Ray request for one job from its evaluated Snakemake resources."""
    cpus = _number(resources.get("_cores"), default=threads)
    gpus = _number(resources.get("gpu"), default=0)
    model = resources.get("gpu_model")
    model = str(model).strip() if model not in (None, "") else None
    mem_mb = _number(resources.get("mem_mb"), default=0)

    custom: dict[str, float] = {}
    if model:
        if gpus <= 0:
            raise ResourceRequestError(
                f"gpu_model={model!r} is set but gpu is not: declare the number of GPUs as well, "
                f"e.g. resources: gpu=1, gpu_model={model!r}"
            )
        amount = gpus if gpu_model_style == "gpu_model" else LABEL_AMOUNT
        custom[gpu_model_resource(gpu_model_style, model)] = amount
    return RayRequest(
        num_cpus=max(cpus, 0),
        num_gpus=max(gpus, 0),
        memory=int(mem_mb * 1_000_000) if mem_mb > 0 else None,
        resources=custom,
        gpu_model=model,
    )


def infeasibility(
    request: RayRequest,
    nodes: Iterable[Mapping[str, Any]],
    gpu_model_style: str = "gpu_model",
    head_address: str = "<head>:6379",
) -> str | None:
    """Why no alive node could ever run ``request``, or None if one can.

    ``nodes`` are entries of ``ray.nodes()``; only their total resources count (a busy node frees up
    eventually, a node lacking a resource never gets it, so a task asking for it would wait forever).
    """
    alive = [node for node in nodes if node.get("Alive", True)]
    wanted = request.as_totals()
    if any(_fits(wanted, node.get("Resources", {})) for node in alive):
        return None

    prefix = f"{gpu_model_style}:"
    models: dict[str, int] = {}
    for node in alive:
        for name in node.get("Resources", {}):
            if name.startswith(prefix):
                models[name[len(prefix) :]] = models.get(name[len(prefix) :], 0) + 1
    known = ", ".join(f"{m} ({n} node{'s' if n > 1 else ''})" for m, n in sorted(models.items())) or "none"

    if request.gpu_model and request.gpu_model not in models:
        resource = gpu_model_resource(gpu_model_style, request.gpu_model)
        hint = ""
        close = [m for m in models if m.lower() == request.gpu_model.lower()]
        if close:
            hint = f" (GPU model names are case-sensitive: did you mean {close[0]!r}?)"
        declare = json.dumps({resource: int(request.num_gpus) or 1})
        return (
            f"no node in the Ray cluster has GPU model {request.gpu_model!r} "
            f"(Ray resource {resource!r}){hint}. GPU models in the cluster: {known}. "
            f"Start a worker that has it with: ray start --address={head_address} "
            f"--num-gpus={int(request.num_gpus) or 1} --resources='{declare}'"
        )

    largest = (
        "; ".join(_describe_node(node.get("Resources", {}), prefix) for node in alive) or "no alive nodes"
    )
    return (
        f"no single node in the Ray cluster is large enough for this job: it asks for "
        f"{request.describe()}, the nodes have: {largest}. Lower the job's threads/gpu/mem_mb "
        f"or add a larger worker."
    )


def _fits(wanted: Mapping[str, float], have: Mapping[str, float]) -> bool:
    # Small tolerance: Ray stores resources in fixed point (1e-4), and memory is rounded.
    return all(have.get(name, 0) + 1e-6 >= amount for name, amount in wanted.items())


def _describe_node(res: Mapping[str, float], model_prefix: str) -> str:
    parts = [f"CPU={_fmt(res.get('CPU', 0))}", f"GPU={_fmt(res.get('GPU', 0))}"]
    if res.get("memory"):
        parts.append(f"memory={res['memory'] / 1e6:.0f}MB")
    parts += [f"{n}={_fmt(v)}" for n, v in sorted(res.items()) if n.startswith(model_prefix)]
    return " ".join(parts)


def _number(value: Any, default: float) -> float:
    """Resource values arrive as ints, as numeric strings, or unset (None / TBD placeholders)."""
    value = getattr(value, "value", value)  # a snakemake Resource wrapper
    if value is None or isinstance(value, bool):
        return default
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except ValueError:
        return default


def _fmt(amount: float) -> str:
    return str(int(amount)) if float(amount).is_integer() else f"{amount:g}"
