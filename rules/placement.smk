"""Rules of the placement phase: results/placements/{cluster}/{model}/{method}/.

A run gets exactly its resolved placement preset as params (config ``placement:`` maps
"cluster/model/method", then "method", to a preset name), so editing one preset reruns only the
placements that use it. ``paper-<method>`` imports the authors' layout from the artifact.
"""

from helix.placement.settings import resolve_preset


PLACEMENT_ARTIFACT = "" if artifact_input() else artifact_dir()


def placement_preset(wildcards):
    """The preset slice of one placement (params)."""
    _, preset = resolve_preset(
        HCFG.placement_presets,
        HCFG.placement,
        wildcards.cluster,
        wildcards.model,
        wildcards.method,
    )
    return preset.model_dump(mode="json")


def placement_model_json(wildcards):
    return str(HCFG.resolve_model_path(wildcards.model))


def placement_targets():
    """Placements the configured experiments name (cluster x model x method)."""
    out = []
    for exp in HCFG.experiments.values():
        for c in exp.clusters:
            for m in exp.models:
                for method in exp.placements:
                    out.append(f"results/placements/{c}/{m}/{method}/layout.yaml")
    return out


register_targets(placement_targets())


rule placement:
    input:
        cluster="results/clusters/{cluster}.yaml",
        model=placement_model_json,
        profiles=model_profiles,
        artifact=artifact_input(),
    output:
        layout="results/placements/{cluster}/{model}/{method}/layout.yaml",
        flow="results/placements/{cluster}/{model}/{method}/flow.json",
    log:
        "logs/placement/{cluster}/{model}/{method}.log",
    benchmark:
        "benchmarks/runs/placement/{cluster}/{model}/{method}.tsv"
    wildcard_constraints:
        method="helix|petals|swarm|separate|sp_plus|paper-[a-z_]+",
    params:
        preset=placement_preset,
        model=model_entry,
        artifact=PLACEMENT_ARTIFACT,
        profiles_root="resources/profiles",
    conda:
        "../envs/helix.yaml"
    script:
        "../scripts/placement.py"
