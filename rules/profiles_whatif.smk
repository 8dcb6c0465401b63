"""Profiles for any GPU and model: the profiler, the analytic model, its validation, what-if clusters.

Outputs:
  results/profiles/measured/{model}/{gpu}/   rule profile (CUDA, on a machine with that GPU type) and
                                             profile_cpu (tiny models, gpu = cpu): measured profiles (store layout);
                                             commit them under profiles/measured/{gpu}/{model}/
  results/profiles/analytic_fit.json         efficiencies fitted on every artifact profile
  results/profiles/validation.csv (+ validation_points.csv, validation.png, validation.pdf)
                                             leave-one-GPU-type-out errors of the analytic model
  resources/profiles/{model}/{gpu}/          rule predict_profile, for every (model, GPU) pair the artifact
                                             has no profile of: the committed measurement when there is one,
                                             else predicted from the model's config.json and the GPU's
                                             datasheet (config gpus.<type>, defaults: helix/profiles/gpu_specs.py)
Targets: whatif_profiles (predicted profiles of every GPU type the artifact lacks), whatif (also
placement and online / offline simulation of the what-if clusters with Helix).
"""

from helix.profiles.store import ARTIFACT_GPU_TYPES


ruleorder: import_profiles > predict_profile


localrules:
    fit_analytic,
    predict_profile,
    whatif_profiles,
    whatif,


rule profile:
    input:
        PROFILES.model_input,
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
        gpu="|".join(PROFILES.gpu_names) or "NONE",
    conda:
        "../envs/helix.yaml"
    resources:
        gpu=1,
        gpu_model=PROFILES.gpu_name,
    params:
        device="cuda",
        dtype="float16",
        gpu=PROFILES.gpu_name,
        config_json=PROFILES.config_json,
        grid={},
        seed=HCFG.seed,
    script:
        "../scripts/profile_layer.py"


rule profile_cpu:
    input:
        PROFILES.model_input,
    output:
        prompt="results/profiles/measured/{model}/cpu/prompt.csv",
        decode="results/profiles/measured/{model}/cpu/decode.csv",
        contexts="results/profiles/measured/{model}/cpu/decode_context.csv",
        meta="results/profiles/measured/{model}/cpu/meta.json",
    log:
        "logs/profile/cpu/{model}.log",
    wildcard_constraints:
        model="|".join(PROFILES.tiny_models) or "NONE",
    conda:
        "../envs/helix.yaml"
    params:
        device="cpu",
        dtype="float32",
        gpu="cpu",
        config_json=PROFILES.config_json,
        grid={},
        seed=HCFG.seed,
    script:
        "../scripts/profile_layer.py"


rule fit_analytic:
    input:
        ARTIFACT.inputs(),
    output:
        "results/profiles/analytic_fit.json",
    log:
        "logs/profiles/fit_analytic.log",
    conda:
        "../envs/helix.yaml"
    params:
        artifact=ARTIFACT.root,
        gpus=list(ARTIFACT_GPU_TYPES),
    script:
        "../scripts/profile_fit.py"


rule validate_profiles:
    input:
        ARTIFACT.inputs(),
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
        artifact=ARTIFACT.root,
        gpus=list(ARTIFACT_GPU_TYPES),
        models=["llama70b", "llama30b"],
    script:
        "../scripts/validate_profiles.py"


rule predict_profile:
    input:
        unpack(PROFILES.profile_inputs),
    output:
        prompt="resources/profiles/{model}/{gpu}/prompt.csv",
        decode="resources/profiles/{model}/{gpu}/decode.csv",
        meta="resources/profiles/{model}/{gpu}/meta.json",
    log:
        "logs/predict_profile/{model}/{gpu}.log",
    wildcard_constraints:
        gpu="|".join(PROFILES.gpu_names) or "NONE",
    conda:
        "../envs/helix.yaml"
    params:
        gpu=PROFILES.gpu_name,
        gpu_entry=PROFILES.gpu_entry,
        config_json=PROFILES.config_json,
        param_bytes_per_layer=PROFILES.param_bytes_per_layer,
    script:
        "../scripts/profile_predict.py"


rule whatif_profiles:
    input:
        PROFILES.whatif_profile_targets(),
        "results/profiles/validation.csv",


rule whatif:
    input:
        PROFILES.whatif_profile_targets(),
        PROFILES.whatif_cluster_targets(),
        PROFILES.whatif_placement_targets(),
        PROFILES.whatif_sim_targets(),


register_targets(
    PROFILES.whatif_profile_targets() + ["results/profiles/validation.csv"]
)
