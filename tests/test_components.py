"""Components and their pure decision helpers, asserted through mocks."""

from __future__ import annotations

import pulumi
import pytest
import yaml

from infra import gpu_driver, kubeconfig, node_pools
from infra.apis import ProjectApis
from infra.node_pools import GpuNodePool, GpuPoolArgs
from tests.conftest import raw_with, run_raw


def pool_args(**changes) -> GpuPoolArgs:
    base = dict(
        key="t4",
        gke_name="t4x1-n1s8",
        project="p",
        location="us-central1",
        accelerator="nvidia-tesla-t4",
        gpus_per_node=1,
        machine_type="n1-standard-8",
        min_nodes=0,
        max_nodes=3,
    )
    base.update(changes)
    return GpuPoolArgs(**base)


# Pure helpers ---------------------------------------------------------------------------------


def test_driver_setting_maps_to_gke_driver_versions():
    assert [node_pools.driver_version(d) for d in ("gke-default", "gke-latest", "daemonset")] == [
        "DEFAULT",
        "LATEST",
        "INSTALLATION_DISABLED",
    ]


def test_gpu_taint_is_nvidia_present_no_schedule():
    assert node_pools.gpu_taint() == {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}


def test_regional_pool_defaults_to_zones_offering_its_gpu():
    assert node_pools.node_locations("us-central1", "nvidia-l4", None) == [
        "us-central1-a",
        "us-central1-b",
        "us-central1-c",
    ]


def test_zonal_pool_keeps_the_cluster_zone():
    assert node_pools.node_locations("us-central1-a", "nvidia-l4", None) is None


def test_explicit_node_locations_win():
    assert node_pools.node_locations("us-central1", "nvidia-l4", ("us-central1-b",)) == ["us-central1-b"]


def test_secure_boot_is_off_only_for_ubuntu_with_the_daemonset_driver():
    assert node_pools.secure_boot("daemonset", "COS_CONTAINERD")
    assert node_pools.secure_boot("gke-default", "UBUNTU_CONTAINERD")
    assert not node_pools.secure_boot("daemonset", "UBUNTU_CONTAINERD")


@pytest.mark.parametrize(("min_nodes", "zones"), [(0, 3), (1, 4), (3, 4), (4, 3), (6, 3), (2, 1)])
def test_initial_node_count_per_zone_never_starts_above_the_minimum_total(min_nodes, zones):
    # GKE's initialNodeCount is per zone; minNodes is a total (total_min_node_count).
    per_zone = node_pools.initial_node_count(min_nodes, zones)
    assert per_zone * zones <= min_nodes
    assert (per_zone + 1) * zones > min_nodes  # the largest per-zone count that still fits


def test_prod_sized_pool_starts_empty_instead_of_one_node_per_zone():
    # prod: minNodes 1 over the four us-central1 zones that offer T4 (the old rounding up made 4).
    assert node_pools.initial_node_count(1, 4) == 0


def test_node_labels_name_pool_accelerator_driver_and_capacity():
    assert node_pools.node_labels(pool_args(spot=True, driver="daemonset")) == {
        "gke-gpu-serving/pool": "t4",
        "gke-gpu-serving/accelerator": "t4",
        "gke-gpu-serving/gpu-driver": "daemonset",
        "gke-gpu-serving/capacity": "spot",
    }


def test_kubeconfig_uses_the_gke_auth_plugin_and_holds_no_token():
    doc = yaml.safe_load(kubeconfig.kubeconfig("c", "203.0.113.1", "Q0E="))
    user = doc["users"][0]["user"]
    assert user["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert user["exec"]["provideClusterInfo"] is True
    assert "token" not in user
    assert doc["clusters"][0]["cluster"]["server"] == "https://203.0.113.1"


def test_driver_variants_differ_by_os_and_name():
    assert gpu_driver.daemonset_name("cos") != gpu_driver.daemonset_name("ubuntu")
    cos = gpu_driver.node_affinity("cos").node_affinity.required_during_scheduling_ignored_during_execution
    exprs = {e.key: (e.operator, e.values) for e in cos.node_selector_terms[0].match_expressions}
    assert exprs["cloud.google.com/gke-accelerator"] == ("Exists", None)
    assert exprs["cloud.google.com/gke-gpu-driver-version"] == ("DoesNotExist", None)
    assert exprs["cloud.google.com/gke-os-distribution"] == ("In", ["cos"])


def test_cos_installer_uses_the_preloaded_image_never_pulled():
    init = gpu_driver.pod_spec("cos").init_containers[0]
    assert (init.image, init.image_pull_policy) == ("cos-nvidia-installer:fixed", "Never")


def test_image_type_picks_the_installer_variant():
    assert gpu_driver.variant_for_image_type("UBUNTU_CONTAINERD") == "ubuntu"
    assert gpu_driver.variant_for_image_type("COS_CONTAINERD") == "cos"


# Components under mocks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "gke_strategy", "clients"), [("time-sharing", "TIME_SHARING", 4), ("mps", "MPS", 8)]
)
@pulumi.runtime.test
def test_shared_pool_sets_gke_sharing_config(mocked, strategy, gke_strategy, clients):
    pool = GpuNodePool(
        f"shared-{strategy}",
        pool_args(sharing_strategy=strategy, max_clients_per_gpu=clients),
        apis=ProjectApis(f"apis-{strategy}", "p"),
        cluster_id="c",
        service_account_email="n@p.iam.gserviceaccount.com",
    )

    def check(accs):
        assert accs[0].gpu_sharing_config.gpu_sharing_strategy == gke_strategy
        assert accs[0].gpu_sharing_config.max_shared_clients_per_gpu == clients

    return pool.pool.node_config.guest_accelerators.apply(check)


@pulumi.runtime.test
def test_spot_pool_takes_capacity_in_any_zone(mocked):
    pool = GpuNodePool(
        "spot",
        pool_args(spot=True),
        apis=ProjectApis("apis", "p"),
        cluster_id="c",
        service_account_email="n@p.iam.gserviceaccount.com",
    )

    def check(values):
        spot, policy = values
        assert spot is True and policy == "ANY"

    return pulumi.Output.all(pool.pool.node_config.spot, pool.pool.autoscaling.location_policy).apply(check)


@pulumi.runtime.test
def test_pool_ignores_initial_node_count_drift(mocked):
    pool = GpuNodePool(
        "ign",
        pool_args(),
        apis=ProjectApis("apis", "p"),
        cluster_id="c",
        service_account_email="n@p.iam.gserviceaccount.com",
    )

    def check(urn):
        assert mocked.by_urn(urn).ignore_changes == ("initialNodeCount",)

    return pool.pool.urn.apply(check)


# Existing-cluster mode -------------------------------------------------------------------------


def existing_capture(**cluster_changes):
    cl = {"mode": "existing", "location": "us-central1", "name": "llm-gke"}
    cl.update(cluster_changes)
    return run_raw(raw_with(cluster=cl, gpuPools=[], models=[]))


def test_existing_mode_reads_the_cluster_and_creates_none():
    capture = existing_capture()
    assert not capture.of_type("gcp:container/cluster:Cluster")
    assert not capture.of_type("gcp:compute/network:Network")
    (read,) = [i for i in capture.invokes if i.token == "gcp:container/getCluster:getCluster"]
    assert read.args["name"] == "llm-gke" and read.args["location"] == "us-central1"


def test_existing_mode_still_yields_a_provider_and_kubeconfig():
    capture = existing_capture()
    assert capture.one("pulumi:providers:kubernetes")
    assert "gke-gcloud-auth-plugin" in capture.outputs["kubeconfig"]


def test_existing_mode_can_install_the_driver_daemonset():
    capture = existing_capture(driverDaemonSet="ubuntu")
    (ds,) = capture.of_type("kubernetes:apps/v1:DaemonSet")
    assert ds.inputs["metadata"]["name"] == "nvidia-driver-installer-ubuntu"
    assert ds.deleted_with == ""


def test_pool_with_both_os_variants_gets_both_installers():
    pools = [
        {
            "name": "cos",
            "accelerator": "nvidia-tesla-t4",
            "gpusPerNode": 1,
            "machineType": "n1-standard-8",
            "maxNodes": 1,
            "driver": "daemonset",
        },
        {
            "name": "ubu",
            "accelerator": "nvidia-tesla-t4",
            "gpusPerNode": 1,
            "machineType": "n1-standard-4",
            "maxNodes": 1,
            "driver": "daemonset",
            "imageType": "UBUNTU_CONTAINERD",
        },
    ]
    capture = run_raw(raw_with(gpuPools=pools))
    names = sorted(d.inputs["metadata"]["name"] for d in capture.of_type("kubernetes:apps/v1:DaemonSet"))
    assert names == ["nvidia-driver-installer", "nvidia-driver-installer-ubuntu"]


def test_no_daemonset_when_gke_manages_drivers():
    capture = run_raw(raw_with())
    assert capture.of_type("kubernetes:apps/v1:DaemonSet") == []
