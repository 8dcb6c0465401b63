"""The placement problem, its result, and the registry of placement methods.

A method is one file in ``helix/placement/methods/`` with a class decorated ``@register("name")``
(the one line); methods are discovered on first use, like the CLI's subcommands. ``paper-<method>``
names are served by the ``paper`` method, which imports the authors' layout from the artifact;
``helix-<variant>`` names (ablations) are the ``helix`` planner run with the preset the config's
``placement`` mapping gives that name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helix.cluster import Cluster
from helix.errors import HelixInputError, PlacementError
from helix.flow.graph import FlowContext, FlowGraph, capacities_for, _starts_ends
from helix.flow.maxflow import FlowResult, max_flow
from helix.layout import Layout
from helix.placement.settings import PlacementPreset
from helix.placement.names import (  # noqa: F401 - re-exported: the registry's naming rules
    HELIX_FAMILY_PATTERN,
    PAPER_PATTERN,
    helix_variant,
    layout_method,
    paper_method,
)
from helix.registry import Registry


@dataclass
class PlacementProblem:
    """Everything a method needs: cluster, model, c(k) tables and settings.

    ``tables`` maps GPU type (or machine name) to c(k) for k = 1..K (index k-1). ``tables_for_mix``
    recomputes tables for another machine mix (single-type sub-clusters need their own,
    docs/design/placement.md trap 2).
    ``model_key`` and ``cluster_key`` are the config names used to find the authors' files.
    """

    cluster: Cluster
    model: object  # helix.models.ModelSpec
    tables: Mapping[str, Sequence[float]]
    settings: PlacementPreset = field(default_factory=PlacementPreset)
    tables_for_mix: Callable[[dict[str, int]], Mapping[str, Sequence[float]]] | None = None
    model_key: str = ""
    cluster_key: str = ""
    artifact_dir: Path | None = None
    warm_start_file: Path | None = None
    work_dir: Path | None = None  # where model.lp/.mps and milp_size.json go, when asked for
    provenance: dict | None = None  # per GPU type: where its profile and limits came from (meta.json)
    # the model's profiles and engine limits (helix.profiles.entry.ModelProfiles): the
    # served-throughput estimate needs them
    profiles: object | None = None
    # Re-ranks candidate layouts by simulation: ([(starts, sizes)], duration_s=None) -> list of
    # simulated decode tok/s (duration_s: a shorter screening run). Given by a module above
    # placement and the simulator (helix/planning/rerank.py), so placement never imports the
    # simulator; None = the estimate decides alone.
    rerank: Callable[..., list[float]] | None = None
    # The request trace's (input, output) lengths, given with ``rerank``: the served planner's
    # validated re-scoring replays admission and decode on them (``validated_candidates``).
    lengths: tuple[Sequence[int], Sequence[int]] | None = None

    @property
    def L(self) -> int:
        return int(self.model.num_layers)

    def table(self, machine_index: int) -> Sequence[float]:
        m = self.cluster.machines[machine_index]
        t = self.tables.get(m.name, self.tables.get(m.gpu))
        if t is None:
            raise HelixInputError(
                f"cluster {self.cluster.name}", f"machines[{machine_index}].gpu", "no capacity table", m.gpu
            )
        return t

    def K(self, machine_index: int) -> int:
        return len(self.table(machine_index))

    def context(self, cluster: Cluster | None = None) -> FlowContext:
        return FlowContext.for_model(cluster or self.cluster, self.model)

    def flow(
        self, layout: Layout, cluster: Cluster | None = None, clamp: bool = False
    ) -> tuple[FlowGraph, FlowResult]:
        cl = cluster or self.cluster
        caps = capacities_for(cl, layout, self.tables, clamp=clamp)
        starts, ends = _starts_ends(cl, layout)
        ctx = self.context(cl)
        graph = ctx.graph(starts, ends, [caps.get(m.name, 0.0) for m in cl.machines])
        return graph, max_flow(graph)

    def check_fits(self) -> None:
        """The model must fit in the cluster at all: sum of K_i >= L (else no layout can serve it)."""
        total = sum(self.K(i) for i in range(self.cluster.n))
        if total < self.L:
            raise PlacementError(
                f"cluster {self.cluster.name}",
                "machines",
                f"model {self.model.name} ({self.L} layers) does not fit: "
                f"the machines hold at most {total} layers",
            )


@dataclass
class TraceRow:
    seconds: float
    objective: float
    bound: float | None
    source: str


@dataclass
class PlacementResult:
    layout: Layout
    method: str
    objective: float  # exact max-flow of the layout, tokens/s
    upper_bound: float | None = None
    solver: str | None = None
    seconds: float | None = None
    trace: list[TraceRow] = field(default_factory=list)
    milp_size: dict | None = None
    graph: FlowGraph | None = None
    flow: FlowResult | None = None
    notes: dict = field(default_factory=dict)
    # separate pipelines: sub-cluster name -> machine names; flow is summed over groups
    groups: dict[str, list[str]] | None = None

    @property
    def gap(self) -> float | None:
        if self.upper_bound is None or self.upper_bound <= 0:
            return None
        return max(0.0, (self.upper_bound - self.objective) / self.upper_bound)


class PlacementMethod(ABC):
    """One placement algorithm. ``place`` returns a layout and its exact max-flow."""

    name: str = ""

    def __init__(self, variant: str | None = None):
        self.variant = variant

    @abstractmethod
    def place(self, problem: PlacementProblem) -> PlacementResult: ...

    # helpers shared by methods
    @staticmethod
    def finish(problem: PlacementProblem, layout: Layout, method: str, **kw) -> PlacementResult:
        graph, flow = problem.flow(layout)
        return PlacementResult(
            layout=layout, method=method, objective=flow.value, graph=graph, flow=flow, **kw
        )


METHODS: Registry[type[PlacementMethod]] = Registry(
    "placement method", package="helix.placement.methods", field="method"
)
register = METHODS.register
# Method names beyond the registered ones (``paper-<method>``, ``helix-<variant>``) are parsed in
# helix.placement.names only.


def available_methods() -> list[str]:
    return METHODS.choices()


def method_pattern(helix_family: bool | None = None) -> str:
    """Wildcard constraint for method names: the helix family, every other method, or (None) both."""
    family = [n for n in METHODS.choices() if helix_variant(n) is not None]  # helix, helix-maxflow, ...
    others = METHODS.pattern(exclude=["paper", *family], extra=[PAPER_PATTERN])
    if helix_family is None:
        return f"{HELIX_FAMILY_PATTERN}|{others}"
    return HELIX_FAMILY_PATTERN if helix_family else others


def get_method(name: str) -> PlacementMethod:
    """The method object for ``name``; ``paper-<m>`` selects the artifact importer for ``m``."""
    if name != "paper" and name in METHODS:  # a registered name wins over the patterns below
        return METHODS.get(name)()
    if paper_method(name) is not None and name == layout_method(name):
        return METHODS.get("paper")(variant=paper_method(name))
    if helix_variant(name):
        return METHODS.get("helix")(variant=helix_variant(name))
    known = METHODS.choices(exclude=("paper",)) + ["helix-<variant>", "paper-<method>"]
    raise HelixInputError(None, "method", f"unknown placement method (known: {', '.join(known)})", name)


def layout_from_vectors(cluster: Cluster, L: int, starts: Sequence[int], sizes: Sequence[int]) -> Layout:
    return Layout(
        num_layers=L,
        ranges={
            m.name: ((int(starts[i]), int(starts[i]) + int(sizes[i])) if sizes[i] > 0 else None)
            for i, m in enumerate(cluster.machines)
        },
    )
