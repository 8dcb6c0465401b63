"""The authors' public artifact: used in place when named, otherwise cloned at the pinned commit."""


rule fetch_artifact:
    output:
        CLONE_MARKER,
    log:
        "logs/fetch_artifact.log",
    conda:
        "../envs/helix.yaml"
    params:
        repo=HCFG.artifact.repo,
        commit=HCFG.artifact.commit,
    shell:
        "(rm -rf resources/helix-artifact.tmp && "
        "git clone --quiet {params.repo} resources/helix-artifact.tmp && "
        "git -C resources/helix-artifact.tmp checkout --quiet {params.commit} && "
        "rm -rf resources/helix-artifact && mv resources/helix-artifact.tmp resources/helix-artifact && "
        "echo {params.commit} > {output}) > {log} 2>&1"
