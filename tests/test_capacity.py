"""One capacity model for the config rules, the plan and the cost estimate: GKE's node
allocatable, pods that fit (with the GCS FUSE sidecar), pools sized for their models."""

from __future__ import annotations

import math

import pytest

from infra import capacity, catalog, config
from tests.conftest import base_raw, raw_with, run_raw
from tests.test_config import NS, errors, only_line_for
from tooling import offline, plan, plan_diff


def _model(**changes) -> dict:
    return {**base_raw()["models"][0], **changes}


def _pool(**changes) -> dict:
    return {**base_raw()["gpuPools"][0], **changes}


# Node allocatable -----------------------------------------------------------------------------


def test_allocatable_reproduces_gkes_example_node():
    # GKE "Plan GKE Standard node sizes", example output: a 4-vCPU node with a 100 GB boot disk
    # reports allocatable cpu 3920m and ephemeral-storage 47060071478 (bytes).
    alloc = catalog.allocatable("e2-standard-4", 100)
    assert alloc.cpu == pytest.approx(3.92)
    assert alloc.ephemeral_gib * 2**30 == pytest.approx(47_060_071_478, rel=1e-5)


def test_memory_reservation_follows_the_documented_tiers():
    # n1-standard-8, 30 GiB: 25% of 4 + 20% of 4 + 10% of 8 + 6% of 14 = 3.44 GiB, + 100 MiB eviction
    assert catalog.allocatable("n1-standard-8", 100).memory_gib == pytest.approx(30 - 3.44 - 100 / 1024, abs=1e-3)


def test_a_larger_boot_disk_gives_pods_more_ephemeral_storage():
    assert catalog.ephemeral_allocatable(200) > 50 > catalog.ephemeral_allocatable(100)


def test_g2_shapes_carry_four_gib_per_vcpu():
    # Compute Engine accelerator-optimized machines (2026-04-13): g2-standard-8 32 GB, -96 384 GB.
    assert catalog.machine_shape("g2-standard-8") == catalog.Shape(8, 32.0)
    assert catalog.machine_shape("g2-standard-96") == catalog.Shape(96, 384.0)


@pytest.mark.parametrize(("count", "shape"), [(4, "g2-standard-48"), (8, "g2-standard-96")])
def test_autopilot_l4_bounds_for_4_and_8_gpus_are_the_largest_shapes_allocatable(count, shape):
    limits = catalog.ACCELERATORS["nvidia-l4"].autopilot[count]
    alloc = catalog.allocatable(shape, 100)
    assert limits.cpu_max == math.floor(alloc.cpu * 10) / 10
    assert limits.memory_max_gib == math.floor(alloc.memory_gib * 10) / 10
    assert shape in limits.basis


# Pods that fit --------------------------------------------------------------------------------


def test_a_pod_needing_more_ephemeral_storage_than_the_boot_disk_gives_is_rejected():
    raw = raw_with(models=[_model(resources={"cpu": "3", "memory": "16Gi", "ephemeralStorage": "50Gi"})])
    line = only_line_for(raw, f"{NS}:models[0].resources.ephemeralStorage")
    assert '"50Gi"' in line and "43.8281 GiB" in line and "raise gpuPools[0].diskSizeGb to at least 112" in line


def test_a_pod_needing_more_memory_than_the_node_allocates_is_rejected():
    raw = raw_with(models=[_model(resources={"cpu": "3", "memory": "29Gi", "ephemeralStorage": "10Gi"})])
    line = only_line_for(raw, f"{NS}:models[0].resources.memory")
    assert "n1-standard-8" in line and "use a larger gpuPools[0].machineType" in line


def test_a_pod_needing_every_vcpu_of_the_node_is_rejected():
    raw = raw_with(models=[_model(resources={"cpu": "8", "memory": "16Gi", "ephemeralStorage": "10Gi"})])
    assert "7.91 CPU" in only_line_for(raw, f"{NS}:models[0].resources.cpu")


def test_the_gcs_fuse_sidecar_counts_against_the_node():
    # 39Gi fits the 43.8 GiB alone; with the sidecar's 5Gi it does not (torchserve modelStore: bucket mounts).
    pod = {"cpu": "3", "memory": "16Gi", "ephemeralStorage": "39Gi"}
    config.parse(raw_with(models=[_model(resources=pod)]))
    raw = raw_with(models=[_model(resources=pod, torchserve={"modelStore": "bucket"})])
    assert "with the GCS FUSE sidecar's requests" in only_line_for(raw, f"{NS}:models[0].resources.ephemeralStorage")


def test_uses_gcs_fuse_agrees_with_the_rendered_pods():
    for changes in ({}, {"torchserve": {"modelStore": "bucket"}}):
        raw = raw_with(models=[_model(**changes)])
        deployment = run_raw(raw).one("kubernetes:apps/v1:Deployment", "model-t5-small-deployment")
        annotations = deployment.inputs["spec"]["template"]["metadata"].get("annotations") or {}
        assert config.uses_gcs_fuse(config.parse(raw).models[0]) == ("gke-gcsfuse/volumes" in annotations)


def test_a_cpu_conversion_job_must_fit_the_system_pool():
    raw = raw_with(
        storage={
            "buckets": [{"name": "models"}],
            "access": [{"workload": "converter", "reads": ["models"], "writes": ["models"]}],
        },
        conversions=[
            {
                "name": "trt",
                "workload": "converter",
                "image": "us-central1-docker.pkg.dev/p/apps/trt:1.0",
                "source": "gs://{models}/a",
                "destination": "gs://{models}/b",
                "resources": {"cpu": "2", "memory": "8Gi", "ephemeralStorage": "60Gi"},
            }
        ],
    )
    line = only_line_for(raw, f"{NS}:conversions[0].resources.ephemeralStorage")
    assert "cluster.systemPool.diskSizeGb" in line


def test_g2_pools_take_no_pd_standard_boot_disk():
    raw = raw_with(
        gpuPools=[_pool(name="l4", accelerator="nvidia-l4", machineType="g2-standard-8", diskType="pd-standard")],
        models=[_model(gpu={"type": "nvidia-l4", "count": 1})],
    )
    assert "pd-balanced, pd-ssd" in only_line_for(raw, f"{NS}:gpuPools[0].diskType")


# Pools sized for their models -----------------------------------------------------------------


def test_a_pool_too_small_for_its_models_minimum_replicas_is_rejected():
    raw = raw_with(
        gpuPools=[_pool(maxNodes=1)],
        models=[_model(name="a"), _model(name="b")],
    )
    line = only_line_for(raw, f"{NS}:gpuPools[0].maxNodes")
    assert "a (1), b (1) need 2 nodes" in line


def test_two_one_gpu_pods_share_a_two_gpu_node():
    cfg = config.parse(
        raw_with(
            gpuPools=[_pool(gpusPerNode=2, machineType="n1-standard-16")],
            models=[_model(name="a"), _model(name="b")],
        )
    )
    (pool,) = capacity.plan_pools(cfg)
    assert (pool.needed_min, pool.nodes_min) == (1, 1)


def test_the_plan_warns_when_maximum_replicas_cannot_all_fit():
    cfg = config.parse(
        raw_with(
            gpuPools=[_pool(maxNodes=3)],
            models=[_model(name="a", replicas={"min": 1, "max": 3}), _model(name="b", replicas={"min": 1, "max": 3})],
        )
    )
    warnings = [line for line in capacity.render_lines(cfg) if "warning" in line]
    assert warnings == [
        "  warning: pool t4: the maximum replicas need 6 nodes, maxNodes is 3: 3 node(s) of pods would stay "
        "Pending at full scale"
    ]


def test_prod_pools_hold_what_their_models_need_and_the_class_what_mistral_needs():
    cfg = plan_diff.stack_config_of(offline.read_stack_config("prod")[0])
    pools = {(p.pool.name, p.nodes_min, p.nodes_max) for p in capacity.plan_pools(cfg)}
    classes = {(c.compute_class.name, c.nodes_min, c.nodes_max) for c in capacity.plan_classes(cfg)}
    assert (pools, classes) == ({("t4", 2, 6), ("l4", 1, 2)}, {("l4-serving", 1, 3)})


def test_the_plan_prints_nodes_per_pool_with_the_models_that_need_them(capsys):
    plan.main(["--stack", "prod"])
    out = capsys.readouterr().out
    assert "  pool l4 (l4x1-g2s8): 1..2 nodes (minNodes 1, maxNodes 6; replicas flan-t5 1..2)" in out


def test_every_capacity_rule_reports_at_most_one_line_per_key():
    raw = raw_with(models=[_model(resources={"cpu": "8", "memory": "29Gi", "ephemeralStorage": "50Gi"})])
    assert len([e for e in errors(raw) if e.startswith(f"{NS}:models[0].resources")]) == 1
