"""Input functions and targets of the simulate rules (kept free of Snakemake, so they are testable).

A run's inputs depend on its table entry: a ``paper-<method>`` run reads the artifact's layout and
placement graph, our own methods read the placement rule's ``layout.yaml`` and the cluster YAML,
and an aggregate reads its part runs' outputs.
"""

from __future__ import annotations

from helix.artifact.source import ArtifactSource
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
        return run_key(wildcards.cluster, wildcards.model, wildcards.method, wildcards.scheduler, wildcards.mode)

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
        out: dict = {"traces": list(TRACE_FILES), "profiles": profile_files(e["model"], gpus), "artifact": self.artifact.inputs()}
        if e["method"].startswith("paper-"):
            if not self.artifact.cloned:  # a local copy: track the files themselves
                sol, graph = paper_inputs(self.artifact.root, e)
                out["layout"] = [str(sol), str(graph)]
        else:
            out["layout"] = [f"results/placements/{e['cluster']}/{e['model']}/{e['method']}/layout.yaml", f"results/clusters/{e['cluster']}.yaml"]
        return out

    def params(self, wildcards) -> dict:
        return self.entry(wildcards)

    def cluster_pattern(self) -> str:
        names = sorted({e["cluster"] for e in self.table.values()} | set(self.cfg.clusters))
        return "|".join(names) or "NONE"

    def method_pattern(self) -> str:
        """Any name: an unknown method is a one-line error from ``entry`` rather than "no rule"."""
        return "[^/]+"

    def targets(self, group: str | None = None) -> list[str]:
        return metrics_targets(self.cfg, group)

    def groups(self) -> list[str]:
        return list(self.cfg.experiments)
