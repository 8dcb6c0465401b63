"""What rules/figures.smk needs from the catalogue: output names and input functions.

Kept here rather than in the .smk file so the rule file holds only rules (snakemake --lint) and
the logic is unit-tested. Nothing here imports Snakemake: input functions take any object with
the wildcard attributes.
"""

from __future__ import annotations

from pathlib import Path

from helix.figures.catalog import FIGURE_NAMES, TABLE_NAMES, Context, build_catalog, spec_inputs
from helix.figures.data import paper_proto

SCRIPTS = {
    "throughput": "figure_throughput.py",
    "latency": "figure_latency.py",
    "placement": "figure_placement.py",
    "congestion": "figure_congestion.py",
    "solver": "figure_solver.py",
    "table8": "table_milp.py",
    "reproduction": "table_reproduction.py",
}


def figure_files(names) -> list[str]:
    """Output files of the named figures (PDF and PNG) and tables (CSV)."""
    out: list[str] = []
    for n in names:
        if n in TABLE_NAMES:
            out.append(f"results/tables/{n}.csv")
        else:
            out += [f"results/figures/{n}.pdf", f"results/figures/{n}.png"]
    return out


def figure_group(prefix: str) -> list[str]:
    """Every panel of one figure number: ``figure_group("fig5")`` -> fig5a ... fig5h files."""
    return figure_files([n for n in FIGURE_NAMES if n.rstrip("abcdefgh") == prefix])


class FigureWorkflow:
    """The catalogue resolved once per workflow run (which prototype source each bar uses)."""

    def __init__(self, artifact_dir: str | Path | None):
        self.context = Context(artifact_dir=Path(artifact_dir) if artifact_dir else None)
        self.specs = build_catalog(self.context)

    def configured(self, names, clusters, models) -> list[str]:
        """The figures whose every input names a configured cluster and model.

        ``rule all`` builds only these, so a config without the paper's clusters (the tests' tiny
        config) does not ask for the paper's figures.
        """
        out = []
        for name in names:
            ok = True
            for path in spec_inputs(self.specs[name]):
                parts = Path(path).parts
                if parts[:2] == ("results", "clusters"):
                    ok &= Path(path).stem in clusters
                elif len(parts) > 4 and parts[1] in ("sims", "proto", "placements"):
                    ok &= parts[2] in clusters and parts[3] in models
            if ok:
                out.append(name)
        return out

    def script(self, name: str) -> str:
        return SCRIPTS[self.specs[name]["kind"]]

    def _row(self, wildcards) -> dict | None:
        return paper_proto(wildcards.cluster, wildcards.model, wildcards.method, wildcards.scheduler, wildcards.mode)

    def paper_proto_logs(self, wildcards) -> list[str]:
        """The paper's event logs of one prototype row (all present, else no figure asks for it)."""
        return self.context.paper_logs(self._row(wildcards)) or []

    def paper_proto_warmup(self, wildcards) -> float:
        row = self._row(wildcards)
        return row["warmup_s"] if row else 0.0
