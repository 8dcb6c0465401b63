"""Input functions and targets of the simulate rules (kept free of Snakemake, so they are testable).

A run's inputs depend on its table entry: a ``paper-<method>`` run reads the artifact's layout and
placement graph, a ``paper-<method>@graph`` run the artifact's layout and the cluster YAML, our own
methods the placement rule's ``layout.yaml`` and the cluster YAML (helix.placement.names), and an
aggregate reads its part runs' outputs.
"""

from __future__ import annotations

from helix.artifact.source import ArtifactSource
from helix.config.schema import NAME_PATTERN
from helix.placement.names import is_paper, reads_artifact_graph
from helix.profiles.paths import TRACE_FILES, profile_files
from helix.sim.experiments import RUN_FILES, default_entry, metrics_targets, run_dir, run_key, sim_table
from helix.sim.pipeline import paper_inputs


class SimWorkflow:
    def __init__(self, cfg, artifact: ArtifactSource, plan=None):
        from helix.profiles.workflow import ProfilePlan

        self.cfg = cfg
        self.plan = plan or ProfilePlan(cfg, ".", artifact.inputs())
        self.table = sim_table(cfg)
        self.artifact = artifact

    def key(self, wildcards) -> str:
        return run_key(
            wildcards.cluster, wildcards.model, wildcards.method, wildcards.scheduler, wildcards.mode
        )

    def entry(self, wildcards) -> dict:
        """The run's table entry; a path no experiment lists gets the config's simulation_defaults."""
        key = self.key(wildcards)
        if key in self.table:
            return self.table[key]
        w = wildcards
        return default_entry(self.cfg, w.cluster, w.model, w.method, w.scheduler, w.mode, self.plan.source)

    def inputs(self, wildcards) -> dict[str, list[str] | str]:
        e = self.entry(wildcards)
        if e["parts"]:
            return {"parts": [f"{run_dir(k)}/{name}" for k in e["parts"] for name in RUN_FILES]}
        gpus = self.plan.cluster_gpus(e["cluster"])
        out: dict = {
            "traces": list(TRACE_FILES),
            "profiles": profile_files(e["model"], gpus),
            "artifact": self.artifact.inputs(),
        }
        method = e["method"]
        if is_paper(method):
            # a local copy: track the files themselves (the solution file, and the artifact's graph
            # where the run reads it); a clone is tracked by its marker
            files = [] if self.artifact.cloned else [str(f) for f in paper_inputs(self.artifact.root, e)]
            if reads_artifact_graph(method):
                out["layout"] = files
            else:  # through our own-layout path: the solution file on our cluster
                out["layout"] = [*files[:1], f"results/clusters/{e['cluster']}.yaml"]
        else:
            out["layout"] = [
                f"results/placements/{e['cluster']}/{e['model']}/{method}/layout.yaml",
                f"results/clusters/{e['cluster']}.yaml",
            ]
        return out

    def params(self, wildcards) -> dict:
        return self.entry(wildcards)

    def name_pattern(self) -> str:
        """Wildcard constraint of cluster, model and method: any name, so an unknown one is a
        one-line error from ``entry`` (default_entry) rather than Snakemake's "no rule to produce"."""
        return NAME_PATTERN

    def targets(self, group: str | None = None) -> list[str]:
        return metrics_targets(self.cfg, group)

    def groups(self) -> list[str]:
        return list(self.cfg.experiments)
