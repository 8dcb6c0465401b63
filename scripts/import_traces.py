"""Rule import_traces: the artifact's pickled Azure Conversation traces into Parquet/CSV."""

import sys
from pathlib import Path

from helix.artifact.traces import import_traces
from helix.errors import HelixInputError

sm = snakemake  # noqa: F821 - injected by Snakemake
# A named local artifact comes as a param; the cloned copy is the folder of the rule's input COMMIT.
artifact = sm.params.artifact or str(Path(sm.input[0]).parent)
with open(sm.log[0], "w") as log:
    try:
        paths = import_traces(artifact, Path(sm.output.lengths).parent)
        if {str(p) for p in paths.values()} != {str(Path(sm.output.lengths)), str(Path(sm.output.arrivals))}:
            raise RuntimeError(f"rule outputs {list(sm.output)} do not match the importer's {paths}")
        print(f"wrote {paths}", file=log)
    except HelixInputError as exc:
        print(f"error: {exc.one_line()}", file=log)
        sys.exit(f"error: {exc.one_line()}")
