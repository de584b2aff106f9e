"""Whole-program runs of the example stacks: what each one creates."""

from __future__ import annotations

import yaml

from infra import capacity, naming
from tests.conftest import LOAD_BALANCER_KINDS, STACKS, stack_capture
from tooling import offline, plan_diff

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"


def gpu_pools(stack: str) -> list:
    return [r for r in stack_capture(stack).of_type(NODE_POOL) if r.inputs["nodeConfig"].get("guestAccelerators")]


def test_every_stack_plans_with_resources(any_stack):
    _, capture = any_stack
    assert capture.of_type(CLUSTER) or capture.invokes


def test_dev_has_a_t4_spot_pool_on_n1_from_zero():
    (pool,) = gpu_pools("dev")
    acc = pool.inputs["nodeConfig"]["guestAccelerators"][0]
    assert acc["type"] == "nvidia-tesla-t4"
    assert pool.inputs["nodeConfig"]["machineType"].startswith("n1-")
    assert pool.inputs["nodeConfig"]["spot"] is True
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == 0


def test_dev_pool_leaves_driver_install_to_the_daemonset():
    (pool,) = gpu_pools("dev")
    acc = pool.inputs["nodeConfig"]["guestAccelerators"][0]
    assert acc["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "INSTALLATION_DISABLED"
    (ds,) = stack_capture("dev").of_type(DAEMONSET)
    assert ds.inputs["metadata"] == {
        **ds.inputs["metadata"],
        "name": "nvidia-driver-installer",
        "namespace": "kube-system",
    }


def test_dev_is_zonal_and_destroyable():
    cluster = stack_capture("dev").one(CLUSTER)
    assert cluster.inputs["location"] == "us-central1-a"
    assert cluster.inputs["deletionProtection"] is False


def test_staging_is_autopilot_without_pools_or_driver():
    capture = stack_capture("staging")
    cluster = capture.one(CLUSTER)
    assert cluster.inputs["enableAutopilot"] is True
    assert capture.of_type(NODE_POOL) == []
    assert capture.of_type(DAEMONSET) == []


def test_prod_has_t4_on_n1_and_l4_on_g2_with_managed_drivers():
    pools = {p.inputs["nodeConfig"]["guestAccelerators"][0]["type"]: p for p in gpu_pools("prod")}
    assert pools["nvidia-tesla-t4"].inputs["nodeConfig"]["machineType"].startswith("n1-")
    assert pools["nvidia-l4"].inputs["nodeConfig"]["machineType"].startswith("g2-")
    for p in pools.values():
        assert (
            p.inputs["nodeConfig"]["guestAccelerators"][0]["gpuDriverInstallationConfig"]["gpuDriverVersion"]
            == "DEFAULT"
        )
    assert stack_capture("prod").of_type(DAEMONSET) == []


def test_prod_is_regional_private_and_protected():
    cluster = stack_capture("prod").one(CLUSTER)
    assert cluster.inputs["location"] == "us-central1"
    assert cluster.inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster.inputs["deletionProtection"] is True
    assert cluster.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"][0]["cidrBlock"] == "10.0.0.0/8"


def test_private_nodes_get_cloud_nat_and_public_ones_do_not():
    assert stack_capture("prod").of_type("gcp:compute/routerNat:RouterNat")
    assert not stack_capture("dev").of_type("gcp:compute/routerNat:RouterNat")


def test_regional_gpu_pools_use_only_zones_that_offer_their_gpu():
    for p in gpu_pools("prod"):
        acc = p.inputs["nodeConfig"]["guestAccelerators"][0]["type"]
        expected = {"nvidia-tesla-t4": {"a", "b", "c", "f"}, "nvidia-l4": {"a", "b", "c"}}[acc]
        assert {z.rsplit("-", 1)[1] for z in p.inputs["nodeLocations"]} == expected


def test_standard_clusters_remove_the_default_pool_and_keep_a_system_pool():
    for stack in ("dev", "prod"):
        capture = stack_capture(stack)
        assert capture.one(CLUSTER).inputs["removeDefaultNodePool"] is True
        system = [p for p in capture.of_type(NODE_POOL) if not p.inputs["nodeConfig"].get("guestAccelerators")]
        assert len(system) == 1


def test_every_cluster_has_workload_identity_prometheus_dcgm_and_gcsfuse(any_stack):
    _, capture = any_stack
    c = capture.one(CLUSTER).inputs
    assert c["workloadIdentityConfig"]["workloadPool"] == "replace-with-your-project-id.svc.id.goog"
    assert c["monitoringConfig"]["managedPrometheus"]["enabled"] is True
    assert "DCGM" in c["monitoringConfig"]["enableComponents"]
    assert c["addonsConfig"]["gcsFuseCsiDriverConfig"]["enabled"] is True
    assert c["releaseChannel"]["channel"] in ("REGULAR", "STABLE")
    assert c["networkingMode"] == "VPC_NATIVE"


def test_standard_clusters_have_shielded_nodes_and_image_streaming():
    for stack in ("dev", "prod"):
        c = stack_capture(stack).one(CLUSTER).inputs
        assert c["enableShieldedNodes"] is True
        assert c["nodePoolDefaults"]["nodeConfigDefaults"]["gcfsConfig"]["enabled"] is True


def test_every_pool_uses_gke_metadata_and_the_stack_node_identity(any_stack):
    _, capture = any_stack
    for p in capture.of_type(NODE_POOL):
        nc = p.inputs["nodeConfig"]
        assert nc["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
        assert nc["serviceAccount"].endswith(".iam.gserviceaccount.com")
        assert "-compute@developer" not in nc["serviceAccount"]


def test_every_gpu_pool_is_tainted_autoscaled_and_auto_managed():
    for stack in ("dev", "prod"):
        for p in gpu_pools(stack):
            assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in p.inputs["nodeConfig"][
                "taints"
            ]
            assert p.inputs["autoscaling"]["totalMaxNodeCount"] >= p.inputs["autoscaling"]["totalMinNodeCount"]
            assert p.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_node_identity_role_is_a_non_authoritative_member(any_stack):
    _, capture = any_stack
    members = capture.of_type("gcp:projects/iAMMember:IAMMember")
    # The node identity's roles (image streaming needs serviceUsageConsumer for a custom node
    # service account), and the metrics adapter's monitoring.viewer (DESIGN.md section 5).
    assert sorted(m.inputs["role"] for m in members) == [
        "roles/container.defaultNodeServiceAccount",
        "roles/monitoring.viewer",
        "roles/serviceusage.serviceUsageConsumer",
    ]
    assert not capture.of_type("gcp:projects/iAMBinding:IAMBinding")
    assert not capture.of_type("gcp:projects/iAMPolicy:IAMPolicy")


def test_every_labelled_gcp_resource_carries_the_stack_label_set(any_stack):
    stack, capture = any_stack
    expected = {
        "project": "gke-gpu-serving",
        "environment": stack,
        "version": naming.version_label(),
        "managed-by": "pulumi",
    }
    for res in capture.resources:
        labels = res.inputs.get("resourceLabels")
        if res.type == NODE_POOL:
            labels = res.inputs["nodeConfig"]["resourceLabels"]
        if labels is not None:
            assert expected.items() <= labels.items(), res.name


def test_every_kubernetes_object_uses_the_explicit_provider_and_dies_with_the_cluster(any_stack):
    _, capture = any_stack
    provider = capture.one("pulumi:providers:kubernetes")
    cluster = capture.of_type(CLUSTER)
    for obj in capture.kubernetes_objects():
        assert obj.provider.startswith(provider.urn)
        if cluster and obj.deleted_with != cluster[0].urn:
            # What GKE builds load balancers from is deleted on its own, before the cluster
            # (tests/reality/test_destroy_order.py).
            kind = obj.inputs["kind"]
            assert kind in LOAD_BALANCER_KINDS or obj.inputs["spec"].get("type") == "LoadBalancer", obj.name


def test_every_kubernetes_object_carries_the_version_label(any_stack):
    _, capture = any_stack
    for obj in capture.kubernetes_objects():
        assert obj.inputs["metadata"]["labels"]["app.kubernetes.io/version"] == naming.__version__


def test_kubeconfig_is_exported_as_a_secret_with_exec_auth(any_stack):
    _, capture = any_stack
    assert "kubeconfig" in capture.secret_outputs
    assert "gke-gcloud-auth-plugin" in capture.outputs["kubeconfig"]
    assert "token:" not in capture.outputs["kubeconfig"]


def test_stacks_are_distinct_environments():
    names = {stack_capture(s).outputs["clusterName"] for s in STACKS}
    assert len(names) == len(STACKS)


def test_every_created_cluster_opens_the_iam_gated_dns_endpoint(any_stack):
    _, capture = any_stack
    dns = capture.one(CLUSTER).inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]
    assert dns == {"allowExternalTraffic": True}


def test_every_example_kubeconfig_points_at_the_dns_endpoint_without_a_cluster_ca(any_stack):
    _, capture = any_stack
    (entry,) = yaml.safe_load(capture.outputs["kubeconfig"])["clusters"]
    assert entry["cluster"] == {"server": f"https://{offline.FAKE_DNS_ENDPOINT}"}


def test_gpu_pools_never_start_above_the_nodes_their_minimum_scale_needs():
    # initialNodeCount is per zone (google_container_node_pool); the minimum scale is a total: the
    # nodes the models' minimum replicas need, never fewer than minNodes (infra/capacity.py).
    for stack in ("dev", "prod"):
        cfg = plan_diff.stack_config_of(offline.read_stack_config(stack)[0])
        needed = {p.pool.gke_name: p.nodes_min for p in capacity.plan_pools(cfg)}
        for p in gpu_pools(stack):
            zones = len(p.inputs.get("nodeLocations") or [p.inputs["location"]])
            assert p.inputs["initialNodeCount"] * zones <= needed[p.inputs["name"]], p.name


def test_nodes_that_stream_images_hold_the_service_usage_consumer_role(any_stack):
    # GKE, Use Image streaming, Requirements: a custom node service account needs
    # roles/serviceusage.serviceUsageConsumer.
    _, capture = any_stack
    node_sa = capture.one("gcp:serviceaccount/account:Account", "cluster-nodes")
    email = f"{node_sa.inputs['accountId']}@{node_sa.inputs['project']}.iam.gserviceaccount.com"
    roles = {
        m.inputs["role"] for m in capture.of_type(PROJECT_MEMBER) if m.inputs["member"] == f"serviceAccount:{email}"
    }
    assert "roles/serviceusage.serviceUsageConsumer" in roles


# Hardening (issue 17: prod cluster and network) -------------------------------------------------


def test_prod_subnet_logs_half_of_its_flows():
    subnet = stack_capture("prod").one("gcp:compute/subnetwork:Subnetwork", "network-nodes").inputs
    assert subnet["logConfig"] == {
        "aggregationInterval": "INTERVAL_5_SEC",
        "flowSampling": 0.5,
        "metadata": "INCLUDE_ALL_METADATA",
    }


def test_dev_subnet_logs_no_flows_by_default():
    assert "logConfig" not in stack_capture("dev").one("gcp:compute/subnetwork:Subnetwork").inputs


def test_prod_cluster_has_intranode_visibility_and_binary_authorization():
    c = stack_capture("prod").one(CLUSTER).inputs
    assert c["enableIntranodeVisibility"] is True
    assert c["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}


def test_dev_cluster_has_no_binary_authorization_by_default():
    assert "binaryAuthorization" not in stack_capture("dev").one(CLUSTER).inputs


def test_every_cluster_runs_the_basic_security_posture(any_stack):
    _, capture = any_stack
    assert capture.one(CLUSTER).inputs["securityPostureConfig"] == {"mode": "BASIC"}


def test_staging_ip_endpoint_is_behind_authorized_networks_like_prod():
    c = stack_capture("staging").one(CLUSTER).inputs
    assert c["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "10.0.0.0/8", "displayName": "corporate-vpn"}
    ]
