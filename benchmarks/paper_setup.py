"""What the placement benchmarks (placement.py, served.py) share: the config, the artifact's
profiles, LLaMA-2 70B, and the placement problem of one of the paper's clusters.

Imported by the benchmark scripts from their own folder (``python benchmarks/<name>.py`` puts it on
``sys.path``); capacities come from helix.profiles.typical over the artifact's profiles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "config/config.yaml")
MODEL = "llama70b"


@dataclass
class PaperSetup:
    cfg: object
    artifact: Path
    gpus: dict
    store: object
    model: object

    def problem(self, cluster_name: str, preset=None):
        """The placement problem of a configured cluster (built by the project's generators)."""
        from helix.clusters.build import build_cluster
        from helix.placement.api import make_problem
        from helix.placement.settings import PlacementPreset

        cluster = build_cluster(
            cluster_name, self.cfg.clusters[cluster_name], self.gpus, None, artifact_dir=self.artifact
        )
        return make_problem(
            cluster, self.model, MODEL, preset or PlacementPreset(), self.store, self.artifact, cluster_name
        )


def paper_setup(config: str = CONFIG) -> PaperSetup:
    """The config at ``config`` with the artifact's profiles and LLaMA-2 70B ($HELIX_ARTIFACT_DIR,
    else the shared reference copy beside the repository)."""
    os.environ.setdefault("HELIX_ARTIFACT_DIR", str(REPO.parent / "shared/reference/helix-artifact"))
    from helix.config.schema import load_config
    from helix.models import load_hf_config
    from helix.profiles.store import ProfileStore

    cfg = load_config(config)
    artifact = cfg.artifact_dir()
    entry = cfg.models[MODEL]
    model = load_hf_config(
        cfg.resolve_model_path(MODEL), MODEL, param_bytes_per_layer_override=entry.param_bytes_per_layer
    )
    gpus = {k: v.model_dump() for k, v in cfg.gpus.items()}
    return PaperSetup(cfg, artifact, gpus, ProfileStore.from_artifact(artifact), model)
