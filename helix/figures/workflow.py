"""What rules/figures.smk needs from the figure records: output files, groups, input functions.

Kept here rather than in the .smk file so the rule file holds only rules (snakemake --lint) and
the logic is unit-tested. Nothing here imports Snakemake: input functions take any object with
the wildcard attributes.
"""

from __future__ import annotations

from pathlib import Path

from helix.figures.catalog import FIGURES, Context, build_catalog, spec_inputs
from helix.figures.data import paper_proto


def figure_files(names) -> list[str]:
    """Output files of the named figures (PDF and PNG) and tables (CSV), in the given order."""
    return [out for n in names for out in FIGURES[n].outputs]


def figure_groups() -> dict[str, list[str]]:
    """Targets that build every panel of one paper figure (fig5 -> fig5a ... fig5h) and ``tables``.

    A figure without panels (fig12) is its own rule, so it has no group.
    """
    groups: dict[str, list[str]] = {}
    for fig in FIGURES.values():
        if fig.group != fig.name:
            groups.setdefault(fig.group, []).extend(fig.outputs)
    return groups


def figure_group(prefix: str) -> list[str]:
    """Every panel of one figure number: ``figure_group("fig5")`` -> fig5a ... fig5h files."""
    return figure_groups()[prefix]


def gallery_pairs() -> tuple[list[str], list[str]]:
    """The gallery's sources (results/figures/<name>.png) and its committed copies (docs/gallery/)."""
    names = [n for n, f in FIGURES.items() if f.gallery]
    return [f"results/figures/{n}.png" for n in names], [f"docs/gallery/{n}.png" for n in names]


class FigureWorkflow:
    """The catalogue resolved once per workflow run (which prototype source each bar uses; with the
    validated config ``cfg``, the custom runs and the served comparison's model)."""

    def __init__(self, artifact_dir: str | Path | None, cfg=None):
        self.context = Context(artifact_dir=Path(artifact_dir) if artifact_dir else None, cfg=cfg)
        self.specs = build_catalog(self.context)

    def inputs(self, name: str) -> list[str]:
        """The metric files figure ``name`` draws: its rule's inputs."""
        return spec_inputs(self.specs[name])

    def configured(self, names, clusters, models) -> list[str]:
        """The figures that read something, and whose every input names a configured cluster and model.

        ``rule all`` builds only these, so a config without the paper's clusters (the tests' tiny
        config) does not ask for the paper's figures, nor one without custom runs for custom_runs.
        """
        out = []
        for name in names:
            ok = bool(spec_inputs(self.specs[name]))
            for path in spec_inputs(self.specs[name]):
                parts = Path(path).parts
                if parts[:2] == ("results", "clusters"):
                    ok &= Path(path).stem in clusters
                elif len(parts) > 4 and parts[1] in ("sims", "proto", "placements"):
                    ok &= parts[2] in clusters and parts[3] in models
            if ok:
                out.append(name)
        return out

    def default_targets(self, clusters, models) -> list[str]:
        """Files ``rule all`` builds: the default figures that the config can make."""
        return figure_files(self.configured([n for n, f in FIGURES.items() if f.default], clusters, models))

    def all_figures(self) -> list[str]:
        """Files ``all_figures`` builds: every record marked for it that reads something."""
        return figure_files([n for n, f in FIGURES.items() if f.in_all_figures and self.inputs(n)])

    def _row(self, wildcards) -> dict | None:
        return paper_proto(
            wildcards.cluster, wildcards.model, wildcards.method, wildcards.scheduler, wildcards.mode
        )

    def paper_proto_logs(self, wildcards) -> list[str]:
        """The paper's event logs of one prototype row (all present, else no figure asks for it)."""
        return self.context.paper_logs(self._row(wildcards)) or []

    def paper_proto_warmup(self, wildcards) -> float:
        row = self._row(wildcards)
        return row["warmup_s"] if row else 0.0
