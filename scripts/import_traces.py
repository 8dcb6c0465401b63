"""Rule import_traces: the artifact's pickled Azure Conversation traces into Parquet/CSV."""

from pathlib import Path

from helix.artifact.traces import import_traces
from helix.runner import rule_log

sm = snakemake  # noqa: F821 - injected by Snakemake
artifact = sm.params.artifact  # the root, whichever way it came (helix.artifact.source)
with rule_log(sm) as log:
    paths = import_traces(artifact, Path(sm.output.lengths).parent)
    if {str(p) for p in paths.values()} != {str(Path(sm.output.lengths)), str(Path(sm.output.arrivals))}:
        raise RuntimeError(f"rule outputs {list(sm.output)} do not match the importer's {paths}")
    print(f"wrote {paths}", file=log)
