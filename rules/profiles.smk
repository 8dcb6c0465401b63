"""Rules of the profiles phase: the artifact's per-layer profiles and workload traces, converted once.

Outputs (the project's own formats, read by placement and simulation rules):
  resources/profiles/{model}/{gpu}/prompt.csv, decode.csv, meta.json   ({gpu} = lower-case type name)
  resources/traces/azure_conv_lengths.parquet, azure_conv_arrivals.csv
Measured or predicted profiles (profiles_whatif.smk) use the same layout for other (model, GPU) pairs.
Other rules ask for the profiles of the cluster they work on (PROFILES.cluster_profiles,
rules/common.smk). Every other (model, GPU) pair is made by rule predict_profile (profiles_whatif.smk).
"""

from helix.profiles.paths import TRACE_FILES, profile_files

# (model, GPU) pairs the artifact has profiles for; directory names are lower-case.
ARTIFACT_PROFILE_MODELS = PROFILES.artifact_models
ARTIFACT_PROFILE_GPUS = PROFILES.artifact_gpus


localrules:
    import_profiles,
    import_traces,


rule import_profiles:
    input:
        ARTIFACT.inputs(),
    output:
        prompt="resources/profiles/{model}/{gpu}/prompt.csv",
        decode="resources/profiles/{model}/{gpu}/decode.csv",
        meta="resources/profiles/{model}/{gpu}/meta.json",
    log:
        "logs/import_profiles/{model}/{gpu}.log",
    wildcard_constraints:
        model="|".join(ARTIFACT_PROFILE_MODELS) or "NONE",
        gpu="|".join(g.lower() for g in ARTIFACT_PROFILE_GPUS) or "NONE",
    conda:
        "../envs/helix.yaml"
    params:
        artifact=ARTIFACT.root,
    script:
        "../scripts/import_profiles.py"


rule import_traces:
    input:
        ARTIFACT.inputs(),
    output:
        lengths=TRACE_FILES[0],
        arrivals=TRACE_FILES[1],
    log:
        "logs/import_traces.log",
    conda:
        "../envs/helix.yaml"
    params:
        artifact=ARTIFACT.root,
    script:
        "../scripts/import_traces.py"


register_targets(
    [
        f
        for m in ARTIFACT_PROFILE_MODELS
        for f in profile_files(m, ARTIFACT_PROFILE_GPUS)
    ]
    + list(TRACE_FILES)
)
