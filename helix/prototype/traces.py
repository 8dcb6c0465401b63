"""Where a prototype run gets its Azure Conversation lengths and arrival counts.

Either the project's imported files (``resources/traces``, made by rule ``import_traces``) or, for
direct CLI/test use, the pinned pickles of the artifact read through the restricted unpickler.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helix.errors import HelixInputError


def load_traces(
    lengths: str | Path | None = None,
    arrivals: str | Path | None = None,
    artifact_dir: str | Path | None = None,
):
    """((inputs, outputs), arrival counts) from files if given, else from the artifact."""
    from helix.artifact import traces as tr

    if lengths is not None and arrivals is not None:
        return tr.load_lengths(lengths), np.asarray(tr.load_arrivals(arrivals))
    from helix.artifact.source import artifact_root

    art = artifact_root(artifact_dir)  # the one resolver: --artifact, $HELIX_ARTIFACT_DIR, the clone
    if not art.is_dir():
        raise HelixInputError(
            None,
            "traces",
            f"give --lengths and --arrivals files, or an artifact dir (HELIX_ARTIFACT_DIR; {art} not found)",
        )
    df = tr.read_artifact_lengths(art)
    counts = tr.read_artifact_arrivals(art)["count"].to_numpy()
    return (df["input"].to_numpy(), df["output"].to_numpy()), counts
