"""How the Ray executor maps Snakemake resources to Ray, and when it refuses a job (no cluster needed)."""

from __future__ import annotations

import pytest

resources = pytest.importorskip(
    "snakemake_executor_plugin_ray.resources",
    reason="install the plugin: pip install ./snakemake-executor-plugin-ray",
)

NODES = [
    {"Alive": True, "Resources": {"CPU": 2.0, "memory": 8e9, "node:__internal_head__": 1.0}},
    {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0, "memory": 64e9, "gpu_model:L4": 2.0}},
    {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 4.0, "memory": 64e9, "gpu_model:A100": 4.0}},
    {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 8.0, "gpu_model:H100": 8.0}},
]


def test_threads_gpu_model_and_memory_map_to_ray_options():
    req = resources.request_for(
        {"_cores": 4, "gpu": 2, "gpu_model": "L4", "mem_mb": 1500, "disk_mb": 10, "tmpdir": "/tmp"},
        threads=4,
    )
    assert req.options() == {
        "num_cpus": 4,
        "num_gpus": 2,
        "memory": 1_500_000_000,
        "resources": {"gpu_model:L4": 2},
    }


def test_accelerator_type_style_asks_for_a_label_fraction():
    req = resources.request_for(
        {"gpu": 1, "gpu_model": "A100"}, threads=1, gpu_model_style="accelerator_type"
    )
    assert req.options()["resources"] == {"accelerator_type:A100": resources.LABEL_AMOUNT}


def test_cpu_job_asks_only_for_cpus():
    assert resources.request_for({"_cores": 1}, threads=1).options() == {"num_cpus": 1, "num_gpus": 0}


def test_gpu_model_without_gpu_is_rejected():
    with pytest.raises(resources.ResourceRequestError, match="gpu=1, gpu_model='L4'"):
        resources.request_for({"gpu_model": "L4"}, threads=1)


def test_feasible_request_passes():
    req = resources.request_for({"gpu": 2, "gpu_model": "L4", "_cores": 8}, threads=8)
    assert resources.infeasibility(req, NODES) is None


def test_unknown_gpu_model_names_the_models_that_exist():
    req = resources.request_for({"gpu": 1, "gpu_model": "H100"}, threads=1)
    msg = resources.infeasibility(req, NODES, head_address="10.0.0.1:6379")
    # the H100 node is dead, so H100 is unknown; the message says what exists and how to add it
    assert "no node in the Ray cluster has GPU model 'H100'" in msg
    assert "A100 (1 node), L4 (1 node)" in msg
    assert "ray start --address=10.0.0.1:6379 --num-gpus=1" in msg and '"gpu_model:H100": 1' in msg


def test_gpu_model_case_mismatch_gets_a_hint():
    req = resources.request_for({"gpu": 1, "gpu_model": "l4"}, threads=1)
    assert "did you mean 'L4'" in resources.infeasibility(req, NODES)


def test_too_large_for_any_single_node():
    req = resources.request_for({"gpu": 3, "gpu_model": "L4", "_cores": 1}, threads=1)
    msg = resources.infeasibility(req, NODES)
    assert "no single node in the Ray cluster is large enough" in msg and "gpu_model:L4=3" in msg
