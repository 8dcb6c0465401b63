"""SP+ (docs/design/placement.md s6): the separate pipelines plus one mixed chain of the types left idle.

The paper's hetero42 SP+ file adds a 16-machine chain of 5 layers each, "8 V100 then 8 T4", but the
cluster has only 6 V100s (docs/design/placement.md trap 10). We reproduce the intent, not the typo:
the types in
``sp_plus_mixed_types`` (default: every type that gets no pipeline of its own and is not otherwise
excluded; hetero42's config names V100 and T4, as the paper) form one chain in the order given,
machines in cluster order, layers split evenly (6 V100 + 10 T4 = 16 machines x 5 layers on
hetero42). The mixed chain's capacities use its own machine mix and are clamped to K.
"""

from __future__ import annotations

from helix.errors import PlacementError
from helix.placement.base import PlacementMethod, PlacementProblem, PlacementResult, register
from helix.placement.methods.separate import chain, grouped_result, separate_layout


@register("sp_plus")
class SpPlus(PlacementMethod):
    def place(self, problem: PlacementProblem) -> PlacementResult:
        layout, groups = separate_layout(problem)
        used = {m for names in groups.values() for m in names}
        mix = problem.cluster.gpu_mix()
        mixed = problem.settings.sp_plus_mixed_types
        if mixed is None:
            mixed = [g for g in mix if not any(problem.cluster.machine(n).gpu == g for n in used)]
        names = [m.name for g in mixed for m in problem.cluster.machines if m.gpu == g and m.name not in used]
        if not names:
            raise PlacementError(
                f"cluster {problem.cluster.name}",
                "sp_plus_mixed_types",
                "no idle machines to form a mixed pipeline",
                mixed,
            )
        layout.ranges.update(chain(names, problem.L))
        groups[f"{problem.cluster.name}-" + "-".join(g.lower() for g in mixed)] = names
        return grouped_result(problem, layout, groups, "sp_plus")
