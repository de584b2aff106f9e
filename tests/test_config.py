"""Every configuration rule rejects bad input with one line naming the key path and the fix.

The helpers here (``NS``, ``errors``, ``only_line_for``, ``model``) are shared by the other config
tests. The rules on reaching and hardening the cluster are in ``tests/test_config_hardening.py``,
malformed stack files in ``tests/test_config_stack_files.py``.
"""

from __future__ import annotations

import pulumi
import pytest
from pydantic import ValidationError

from infra import config
from tests.conftest import as_pulumi_config, base_raw, raw_with
from tooling.offline import Capture, run_program

NS = "gke-gpu-serving"


def errors(raw: dict) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    return info.value.lines


def only_line_for(raw: dict, path: str) -> str:
    """The single error line about ``path``; fails if there is none or more than one."""
    lines = [line for line in errors(raw) if line.startswith(path + " ") or line.startswith(path + ":")]
    assert len(lines) == 1, errors(raw)
    assert "\n" not in lines[0]
    return lines[0]


def pool(**changes) -> list[dict]:
    p = dict(base_raw()["gpuPools"][0])
    p.update(changes)
    return [p]


def model(**changes) -> list[dict]:
    m = dict(base_raw()["models"][0])
    m.update(changes)
    return [m]


def autopilot(**changes) -> dict:
    raw = raw_with(cluster={"mode": "autopilot", "location": "us-central1", "deletionProtection": False}, gpuPools=[])
    raw.update(changes)
    return raw


def test_base_config_is_valid():
    cfg = config.parse(base_raw())
    assert cfg.cluster_name == "gpu-serving-dev-gke"


def test_t4_on_a_g2_machine_is_rejected():
    line = only_line_for(raw_with(gpuPools=pool(machineType="g2-standard-8")), f"{NS}:gpuPools[0].machineType")
    assert '"g2-standard-8"' in line and "use an n1-* machine type" in line


def test_l4_with_the_wrong_count_is_rejected():
    raw = raw_with(gpuPools=pool(accelerator="nvidia-l4", machineType="g2-standard-48", gpusPerNode=2), models=[])
    line = only_line_for(raw, f"{NS}:gpuPools[0].gpusPerNode")
    assert "exactly 4" in line and "set gpusPerNode to 4" in line


def test_node_pool_in_autopilot_is_rejected():
    line = only_line_for(autopilot(gpuPools=pool()), f"{NS}:gpuPools")
    assert "Autopilot" in line and "remove gpuPools" in line


def test_driver_daemonset_in_autopilot_is_rejected():
    raw = autopilot(
        cluster={"mode": "autopilot", "location": "us-central1", "deletionProtection": False, "driverDaemonSet": "cos"}
    )
    line = only_line_for(raw, f"{NS}:cluster.driverDaemonSet")
    assert "Autopilot installs NVIDIA drivers" in line


def test_driver_daemonset_on_an_existing_autopilot_cluster_is_rejected():
    raw = raw_with(
        cluster={
            "mode": "existing",
            "location": "us-central1",
            "name": "shared",
            "existingAutopilot": True,
            "driverDaemonSet": "cos",
        },
        gpuPools=[],
        models=[],
    )
    assert any(line.startswith(f"{NS}:cluster.driverDaemonSet") for line in errors(raw))


def test_min_nodes_over_max_nodes_is_rejected():
    line = only_line_for(raw_with(gpuPools=pool(minNodes=3, maxNodes=1)), f"{NS}:gpuPools[0].minNodes")
    assert "= 3" in line and "lower minNodes or raise maxNodes" in line


def test_accelerator_not_offered_in_the_zone_is_rejected():
    raw = raw_with(
        cluster={"mode": "standard", "location": "us-central1-f", "deletionProtection": False},
        gpuPools=pool(accelerator="nvidia-l4", machineType="g2-standard-8"),
        models=[],
    )
    line = only_line_for(raw, f"{NS}:gpuPools[0].accelerator")
    assert "not offered in us-central1-f" in line and "us-central1-a" in line


def test_accelerator_not_offered_in_the_region_is_rejected():
    raw = raw_with(
        region="us-west2",
        cluster={"mode": "standard", "location": "us-west2", "deletionProtection": False},
        gpuPools=pool(accelerator="nvidia-l4", machineType="g2-standard-8"),
        models=[],
    )
    assert any("not offered in us-west2" in line for line in errors(raw))


def test_node_location_without_the_gpu_is_rejected():
    line = only_line_for(raw_with(gpuPools=pool(nodeLocations=["us-central1-d"])), f"{NS}:gpuPools[0].nodeLocations[0]")
    assert "us-central1-d" in line


def test_unknown_top_level_key_is_rejected_by_name():
    line = only_line_for(raw_with(gpuPool=[]), f"{NS}:gpuPool")
    assert "unknown key" in line


def test_unknown_nested_key_is_rejected_by_path():
    raw = raw_with(
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": False, "locaton": "x"}
    )
    assert "unknown key" in only_line_for(raw, f"{NS}:cluster.locaton")


def test_unknown_enum_value_names_the_choices():
    line = only_line_for(raw_with(gpuPools=pool(driver="nvidia")), f"{NS}:gpuPools[0].driver")
    assert "'daemonset'" in line


def test_model_gpu_type_without_a_pool_is_rejected():
    line = only_line_for(raw_with(models=model(gpu={"type": "nvidia-l4", "count": 1})), f"{NS}:models[0].gpu.type")
    assert "no GPU pool serves nvidia-l4" in line


def test_model_gpu_count_over_pool_gpus_is_rejected():
    line = only_line_for(
        raw_with(models=model(gpu={"type": "nvidia-tesla-t4", "count": 2})), f"{NS}:models[0].gpu.count"
    )
    assert "largest: 1" in line


def test_multi_gpu_model_on_a_shared_pool_is_rejected():
    raw = raw_with(
        gpuPools=pool(gpusPerNode=2, sharing={"strategy": "time-sharing", "maxClientsPerGpu": 2}),
        models=model(gpu={"type": "nvidia-tesla-t4", "count": 2}),
    )
    assert "share GPUs" in only_line_for(raw, f"{NS}:models[0].gpu.count")


def test_latest_tag_outside_dev_is_rejected():
    raw = raw_with(environment="staging", models=model(image="us-docker.pkg.dev/p/r/t5:latest"))
    assert "pin a version tag" in only_line_for(raw, f"{NS}:models[0].image")


def test_untagged_image_outside_dev_is_rejected():
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=model(image="us-docker.pkg.dev/p/r/t5"),
    )
    assert "by omission" in only_line_for(raw, f"{NS}:models[0].image")


def test_latest_tag_in_dev_is_allowed():
    assert config.parse(raw_with(models=model(image="localhost:5000/t5:latest"))).models[0].image.endswith(":latest")


def test_digest_pinned_image_outside_dev_is_allowed():
    image = "us-docker.pkg.dev/p/r/t5@sha256:" + "a" * 64
    assert config.parse(raw_with(environment="staging", models=model(image=image))).models[0].image == image


def test_replicas_min_over_max_is_rejected():
    line = only_line_for(raw_with(models=model(replicas={"min": 3, "max": 1})), f"{NS}:models[0].replicas.min")
    assert "lower min or raise max" in line


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (raw_with(models=model(name="T5_Small")), f"{NS}:models[0].name"),
        (raw_with(gpuPools=pool(name="gpu.pool")), f"{NS}:gpuPools[0].name"),
        (raw_with(namePrefix="a-very-long-name-prefix-x"), f"{NS}:namePrefix"),
    ],
    ids=["model", "pool", "prefix"],
)
def test_names_must_be_dns1123_within_budget(raw, path):
    assert "DNS-1123" in only_line_for(raw, path)


def test_deletion_protection_must_be_explicit():
    raw = raw_with(cluster={"mode": "standard", "location": "us-central1-a"})
    assert "set true for prod" in only_line_for(raw, f"{NS}:cluster.deletionProtection")


def test_cluster_location_outside_the_region_is_rejected():
    raw = raw_with(cluster={"mode": "standard", "location": "europe-west4-b", "deletionProtection": False})
    assert "gcp:region us-central1" in only_line_for(raw, f"{NS}:cluster.location")


def test_zonal_autopilot_is_rejected():
    raw = autopilot(cluster={"mode": "autopilot", "location": "us-central1-a", "deletionProtection": False})
    assert "regional" in only_line_for(raw, f"{NS}:cluster.location")


def test_existing_cluster_needs_a_name():
    raw = raw_with(cluster={"mode": "existing", "location": "us-central1-a"}, gpuPools=[], models=[])
    assert "is required for mode: existing" in only_line_for(raw, f"{NS}:cluster.name")


def test_existing_cluster_takes_no_pools():
    raw = raw_with(cluster={"mode": "existing", "location": "us-central1-a", "name": "llm-gke"})
    assert "existing cluster" in only_line_for(raw, f"{NS}:gpuPools")


def test_driver_daemonset_key_is_only_for_existing_clusters():
    raw = raw_with(
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": False, "driverDaemonSet": "cos"}
    )
    assert "gpuPools[].driver: daemonset" in only_line_for(raw, f"{NS}:cluster.driverDaemonSet")


def test_autopilot_cpu_over_the_per_gpu_limit_is_rejected():
    raw = autopilot(models=model(gpu={"type": "nvidia-l4", "count": 1}, resources={"cpu": "40", "memory": "16Gi"}))
    assert "0.5-31" in only_line_for(raw, f"{NS}:models[0].resources.cpu")


def test_autopilot_memory_over_the_per_gpu_limit_is_rejected():
    raw = autopilot(models=model(gpu={"type": "nvidia-l4", "count": 2}, resources={"cpu": "8", "memory": "100Gi"}))
    assert "GiB" in only_line_for(raw, f"{NS}:models[0].resources.memory")


def test_autopilot_gpu_count_it_does_not_offer_is_rejected():
    raw = autopilot(models=model(gpu={"type": "nvidia-tesla-t4", "count": 8}))
    assert "1, 2, 4" in only_line_for(raw, f"{NS}:models[0].gpu.count")


def test_duplicate_pool_names_are_rejected():
    raw = raw_with(gpuPools=pool() + pool(spot=True))
    assert "must be unique" in only_line_for(raw, f"{NS}:gpuPools[1].name")


def test_pools_with_identical_hardware_are_rejected():
    raw = raw_with(gpuPools=pool() + pool(name="t4b"))
    assert "t4x1-n1s8" in only_line_for(raw, f"{NS}:gpuPools[1]")


def test_duplicate_model_names_are_rejected():
    assert "must be unique" in only_line_for(raw_with(models=model() + model()), f"{NS}:models[1].name")


def test_model_source_must_be_gs_or_hf():
    line = only_line_for(raw_with(models=model(source="s3://bucket/model")), f"{NS}:models[0].source")
    assert "neither a gs:// nor an hf:// URI" in line


def test_memory_must_be_a_kubernetes_quantity():
    line = only_line_for(raw_with(models=model(resources={"memory": "16 gigs"})), f"{NS}:models[0].resources.memory")
    assert "Kubernetes quantity" in line


def test_overlapping_network_ranges_are_rejected():
    raw = raw_with(network={"nodesCidr": "10.16.0.0/20"})
    assert "overlap" in only_line_for(raw, f"{NS}:network")


def test_unknown_environment_is_rejected():
    assert "'prod'" in only_line_for(raw_with(environment="production"), f"{NS}:environment")


def test_region_that_is_a_zone_is_rejected():
    assert "gcp:region" in only_line_for(raw_with(region="us-central1-a"), "gcp:region")


def test_system_pool_min_over_max_is_rejected():
    raw = raw_with(
        cluster={
            "mode": "standard",
            "location": "us-central1-a",
            "deletionProtection": False,
            "systemPool": {"minNodes": 4, "maxNodes": 2},
        }
    )
    assert "systemPool.maxNodes" in only_line_for(raw, f"{NS}:cluster.systemPool.minNodes")


def test_missing_required_key_names_it():
    raw = base_raw()
    del raw["cluster"]
    assert "required" in only_line_for(raw, f"{NS}:cluster")


def test_bad_config_creates_nothing():
    capture = Capture()
    bad = raw_with(gpuPools=pool(machineType="g2-standard-8"))
    with pytest.raises(pulumi.RunError) as info:
        run_program("test", as_pulumi_config(bad), capture=capture)
    assert f"{NS}:gpuPools[0].machineType" in str(info.value)
    assert capture.resources == []


def test_config_is_frozen():
    cfg = config.parse(base_raw())
    with pytest.raises(ValidationError, match="frozen"):
        cfg.environment = "prod"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("quantity", "value"),
    [("500m", 0.5), ("4", 4), ("16Gi", 16 * 2**30), ("1e3", 1000), ("2k", 2000)],
)
def test_parse_quantity(quantity, value):
    assert config.parse_quantity(quantity) == value


@pytest.mark.parametrize(
    ("image", "tag"),
    [("nginx", None), ("nginx:1.27", "1.27"), ("localhost:5000/app", None), ("r/app:v1@sha256:" + "b" * 64, "v1")],
)
def test_image_tag(image, tag):
    assert config.image_tag(image) == tag


# Image references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "us-central1-docker.pkg.dev/p/models/t5-small:1.0-gpu",
        "vllm/vllm-openai:v0.11.0",
        "nvcr.io/nvidia/tritonserver:25.06-py3",
        "localhost:5000/t5:1",
        "gcr.io/p/t5@sha256:" + "0" * 64,
    ],
)
def test_image_references_the_runtime_parses_are_accepted(image):
    config.parse(raw_with(models=model(image=image)))


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("https://gcr.io/p/t5:1.0", "drop the URL scheme"),
        ("gcr.io/P/T5:1.0", "lower-case path"),
        ("gcr.io/p/t5:1.0:2", "lower-case path, then :tag"),
        ("gcr.io//t5:1.0", "a registry host"),
        ("gcr.io/p/t5@sha256:abc", "@sha256:digest"),
    ],
)
def test_malformed_image_references_name_the_key_and_the_form(image, why):
    line = only_line_for(raw_with(models=model(image=image)), f"{NS}:models[0].image")
    assert why in line and f'"{image}"' in line


def test_webapp_conversion_and_load_test_images_are_checked_too():
    raw = raw_with(loadTest={"model": "t5-small", "image": "Locust:2"})
    assert "is not an image reference" in only_line_for(raw, f"{NS}:loadTest.image")
