"""Profiles for any GPU and model: the profiler, the analytic model, its validation, what-if clusters.

Outputs:
  results/profiles/measured/{model}/{gpu}/   rule profile (CUDA, on a machine with that GPU type) and
                                             profile_cpu (tiny models, gpu = cpu): measured profiles (store layout);
                                             commit them under profiles/measured/{gpu}/{model}/
  results/profiles/analytic_fit.json         efficiencies fitted on every artifact profile
  results/profiles/validation.csv (+ validation_points.csv, validation.png, validation.pdf)
                                             leave-one-GPU-type-out errors of the analytic model
  resources/profiles/{model}/{gpu}/          for config GPU types the artifact never measured: the
                                             committed measurement when there is one, else predicted
Targets: whatif_profiles (the above for every what-if GPU type), whatif (also placement and online /
offline simulation of the what-if clusters with Helix; needs the placement and simulate rules).
"""

from helix.profiles.whatif import WhatifPlan

WHATIF = WhatifPlan(HCFG, workflow.basedir, artifact_input())


localrules:
    fit_analytic,
    whatif_profile,
    whatif_profiles,
    whatif,


rule profile:
    input:
        WHATIF.model_input,
    output:
        prompt="results/profiles/measured/{model}/{gpu}/prompt.csv",
        decode="results/profiles/measured/{model}/{gpu}/decode.csv",
        contexts="results/profiles/measured/{model}/{gpu}/decode_context.csv",
        meta="results/profiles/measured/{model}/{gpu}/meta.json",
    log:
        "logs/profile/{gpu}/{model}.log",
    benchmark:
        "benchmarks/profile/{gpu}/{model}.tsv"
    wildcard_constraints:
        gpu="|".join(WHATIF.gpu_names) or "NONE",
    conda:
        "../envs/helix.yaml"
    resources:
        gpu=1,
        gpu_model=WHATIF.gpu_name,
    params:
        device="cuda",
        dtype="float16",
        gpu=WHATIF.gpu_name,
        config_json=WHATIF.config_json,
        grid={},
        seed=HCFG.seed,
    script:
        "../scripts/profile_layer.py"


rule profile_cpu:
    input:
        WHATIF.model_input,
    output:
        prompt="results/profiles/measured/{model}/cpu/prompt.csv",
        decode="results/profiles/measured/{model}/cpu/decode.csv",
        contexts="results/profiles/measured/{model}/cpu/decode_context.csv",
        meta="results/profiles/measured/{model}/cpu/meta.json",
    log:
        "logs/profile/cpu/{model}.log",
    wildcard_constraints:
        model="|".join(WHATIF.tiny_models) or "NONE",
    conda:
        "../envs/helix.yaml"
    params:
        device="cpu",
        dtype="float32",
        gpu="cpu",
        config_json=WHATIF.config_json,
        grid={},
        seed=HCFG.seed,
    script:
        "../scripts/profile_layer.py"


rule fit_analytic:
    input:
        artifact_input(),
    output:
        "results/profiles/analytic_fit.json",
    log:
        "logs/profiles/fit_analytic.log",
    conda:
        "../envs/helix.yaml"
    params:
        artifact=ARTIFACT_PARAM,
        gpus=list(ARTIFACT_GPU_TYPES),
    script:
        "../scripts/profile_fit.py"


rule validate_profiles:
    input:
        artifact_input(),
    output:
        table="results/profiles/validation.csv",
        points="results/profiles/validation_points.csv",
        png="results/profiles/validation.png",
        pdf="results/profiles/validation.pdf",
    log:
        "logs/profiles/validate_profiles.log",
    benchmark:
        "benchmarks/profiles/validate_profiles.tsv"
    conda:
        "../envs/helix.yaml"
    params:
        artifact=ARTIFACT_PARAM,
        gpus=list(ARTIFACT_GPU_TYPES),
        models=["llama70b", "llama30b"],
    script:
        "../scripts/validate_profiles.py"


rule whatif_profile:
    input:
        unpack(WHATIF.profile_inputs),
    output:
        prompt="resources/profiles/{model}/{gpu}/prompt.csv",
        decode="resources/profiles/{model}/{gpu}/decode.csv",
        meta="resources/profiles/{model}/{gpu}/meta.json",
    log:
        "logs/whatif_profile/{model}/{gpu}.log",
    wildcard_constraints:
        gpu="|".join(WHATIF.whatif_dirs) or "NONE",
    conda:
        "../envs/helix.yaml"
    params:
        gpu=WHATIF.gpu_name,
        gpu_entry=WHATIF.gpu_entry,
        config_json=WHATIF.config_json,
        param_bytes_per_layer=WHATIF.param_bytes_per_layer,
        config_file=CONFIG_SOURCE,
    script:
        "../scripts/profile_predict.py"


rule whatif_profiles:
    input:
        WHATIF.profile_targets(),
        "results/profiles/validation.csv",


rule whatif:
    input:
        WHATIF.profile_targets(),
        WHATIF.cluster_targets(),
        WHATIF.placement_targets(),
        WHATIF.sim_targets(),


register_targets(WHATIF.profile_targets() + ["results/profiles/validation.csv"])
