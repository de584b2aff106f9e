"""The rules on GKE clusters and GPU node pools: their rows of the tables
``tests/test_policies_rules.py`` runs (a happy path, one-field changes with the exact message,
preview-time unknowns), and the details the tables cannot show. The rules on buckets and IAM are
``tests/test_policies_rules_storage_iam.py``."""

from __future__ import annotations

from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import gke, gpu, storage
from tests.policy_harness import (
    BUCKET,
    BUCKET_OK,
    CLUSTER,
    CLUSTER_OK,
    DELETE,
    POOL,
    POOL_OK,
    changed,
    violations,
)

# (policy, type, happy-path props)
HAPPY = [
    (gke.workload_identity, CLUSTER, CLUSTER_OK),
    (gke.metadata_server, CLUSTER, CLUSTER_OK),
    (gke.metadata_server, POOL, POOL_OK),
    (gke.private_nodes, CLUSTER, CLUSTER_OK),
    (gke.deletion_protection, CLUSTER, CLUSTER_OK),
    (gke.release_channel, CLUSTER, CLUSTER_OK),
    (gke.binary_authorization, CLUSTER, CLUSTER_OK),
    (gpu.taint, POOL, POOL_OK),
    (gpu.bounded_autoscaling, POOL, POOL_OK),
    (gpu.machine_pairing, POOL, POOL_OK),
]

# (policy, type, props, path, new value, exact message)
FAILS = [
    (
        gke.workload_identity,
        CLUSTER,
        CLUSTER_OK,
        ("workloadIdentityConfig",),
        DELETE,
        "Workload Identity is off: pods would use the node service account's credentials; "
        "set workloadIdentityConfig.workloadPool to <project>.svc.id.goog",
    ),
    (
        gke.workload_identity,
        CLUSTER,
        CLUSTER_OK,
        ("workloadIdentityConfig", "workloadPool"),
        "my-project.example",
        "workloadIdentityConfig.workloadPool 'my-project.example' is not a <project>.svc.id.goog pool",
    ),
    (
        gke.metadata_server,
        POOL,
        POOL_OK,
        ("nodeConfig", "workloadMetadataConfig", "mode"),
        "GCE_METADATA",
        "nodeConfig uses workloadMetadataConfig.mode GCE_METADATA, which exposes the node's credentials "
        "to every pod; use GKE_METADATA",
    ),
    (
        gke.metadata_server,
        POOL,
        POOL_OK,
        ("nodeConfig", "workloadMetadataConfig"),
        DELETE,
        "nodeConfig does not set workloadMetadataConfig.mode; set GKE_METADATA so pods cannot "
        "read the node's credentials from the Compute Engine metadata server",
    ),
    (
        gke.metadata_server,
        CLUSTER,
        CLUSTER_OK,
        ("nodeConfig", "workloadMetadataConfig", "mode"),
        "GCE_METADATA",
        "nodeConfig uses workloadMetadataConfig.mode GCE_METADATA, which exposes the node's credentials "
        "to every pod; use GKE_METADATA",
    ),
    (
        gke.private_nodes,
        CLUSTER,
        CLUSTER_OK,
        ("privateClusterConfig", "enablePrivateNodes"),
        False,
        "a prod cluster must have private nodes (no external IPs): set "
        "privateClusterConfig.enablePrivateNodes true (cluster.privateNodes in the stack config)",
    ),
    (
        gke.binary_authorization,
        CLUSTER,
        CLUSTER_OK,
        ("binaryAuthorization",),
        DELETE,
        "a prod cluster must admit only images the project's Binary Authorization policy allows: set "
        "binaryAuthorization.evaluationMode PROJECT_SINGLETON_POLICY_ENFORCE (cluster.binaryAuthorization in the "
        "stack config)",
    ),
    (
        gke.deletion_protection,
        CLUSTER,
        CLUSTER_OK,
        ("deletionProtection",),
        False,
        "a prod cluster must keep deletionProtection true so no destroy or replacement can "
        "delete it (cluster.deletionProtection in the stack config)",
    ),
    (
        gke.release_channel,
        CLUSTER,
        CLUSTER_OK,
        ("releaseChannel",),
        DELETE,
        "release channel is not set; set releaseChannel.channel to one of RAPID, REGULAR, STABLE, "
        "EXTENDED so GKE upgrades the cluster on a known cadence",
    ),
    (
        gke.release_channel,
        CLUSTER,
        CLUSTER_OK,
        ("releaseChannel", "channel"),
        "UNSPECIFIED",
        "release channel is UNSPECIFIED; set releaseChannel.channel to one of RAPID, REGULAR, STABLE, "
        "EXTENDED so GKE upgrades the cluster on a known cadence",
    ),
    (
        gpu.taint,
        POOL,
        POOL_OK,
        ("nodeConfig", "taints"),
        DELETE,
        "GPU pool has no nvidia.com/gpu NO_SCHEDULE taint: GKE adds it only when a non-GPU pool "
        "already exists, and without it CPU pods land on (and keep awake) GPU nodes; add "
        "nodeConfig.taints [{key: nvidia.com/gpu, value: present, effect: NO_SCHEDULE}]",
    ),
    (
        gpu.taint,
        POOL,
        POOL_OK,
        ("nodeConfig", "taints", 0, "effect"),
        "PREFER_NO_SCHEDULE",
        "GPU pool has no nvidia.com/gpu NO_SCHEDULE taint: GKE adds it only when a non-GPU pool "
        "already exists, and without it CPU pods land on (and keep awake) GPU nodes; add "
        "nodeConfig.taints [{key: nvidia.com/gpu, value: present, effect: NO_SCHEDULE}]",
    ),
    (
        gpu.bounded_autoscaling,
        POOL,
        POOL_OK,
        ("autoscaling",),
        DELETE,
        "GPU pool has no autoscaling: set autoscaling with totalMinNodeCount (0 scales to zero) and totalMaxNodeCount",
    ),
    (
        gpu.bounded_autoscaling,
        POOL,
        POOL_OK,
        ("autoscaling", "totalMaxNodeCount"),
        20,
        "GPU pool may scale to 20 nodes, above the 8 this policy allows (config maxNodes)",
    ),
    (
        gpu.bounded_autoscaling,
        POOL,
        POOL_OK,
        ("autoscaling", "totalMinNodeCount"),
        4,
        "GPU pool autoscaling minimum 4 is above its maximum 3",
    ),
    (
        gpu.bounded_autoscaling,
        POOL,
        POOL_OK,
        ("autoscaling", "totalMaxNodeCount"),
        DELETE,
        "GPU pool autoscaling has no maximum: set autoscaling.totalMaxNodeCount",
    ),
    (
        gpu.machine_pairing,
        POOL,
        POOL_OK,
        ("nodeConfig", "machineType"),
        "g2-standard-8",
        "nvidia-tesla-t4 attaches only to N1 machine types, not g2-standard-8; GKE rejects this pool at "
        "creation (see infra/catalog.py for valid shapes)",
    ),
    (
        gpu.machine_pairing,
        POOL,
        POOL_OK,
        ("nodeConfig", "guestAccelerators", 0, "count"),
        3,
        "a T4 node carries 1, 2 or 4 GPUs, not 3; GKE rejects this pool at creation (see infra/catalog.py for valid shapes)",
    ),
    (
        gpu.machine_pairing,
        POOL,
        POOL_OK,
        ("nodeConfig", "machineType"),
        "n1-standard-64",
        "an N1 VM with 1 T4 may have at most 48 vCPUs, n1-standard-64 has 64; GKE rejects this pool at "
        "creation (see infra/catalog.py for valid shapes)",
    ),
]

# (policy, type, props, path) whose value becomes unknown at preview; the sentinel fits the field.
UNKNOWNS = [
    (gke.workload_identity, CLUSTER, CLUSTER_OK, ("workloadIdentityConfig", "workloadPool"), UNKNOWN_STRING_VALUE),
    (gke.metadata_server, POOL, POOL_OK, ("nodeConfig",), UNKNOWN_STRING_VALUE),
    (gke.private_nodes, CLUSTER, CLUSTER_OK, ("privateClusterConfig", "enablePrivateNodes"), UNKNOWN_BOOLEAN_VALUE),
    (gke.private_nodes, CLUSTER, CLUSTER_OK, ("resourceLabels",), UNKNOWN_STRING_VALUE),
    (gke.deletion_protection, CLUSTER, CLUSTER_OK, ("deletionProtection",), UNKNOWN_BOOLEAN_VALUE),
    (gke.release_channel, CLUSTER, CLUSTER_OK, ("releaseChannel", "channel"), UNKNOWN_STRING_VALUE),
    (gke.binary_authorization, CLUSTER, CLUSTER_OK, ("binaryAuthorization", "evaluationMode"), UNKNOWN_STRING_VALUE),
    (gpu.taint, POOL, POOL_OK, ("nodeConfig", "taints"), UNKNOWN_ARRAY_VALUE),
    (gpu.bounded_autoscaling, POOL, POOL_OK, ("autoscaling", "totalMaxNodeCount"), UNKNOWN_NUMBER_VALUE),
    (gpu.machine_pairing, POOL, POOL_OK, ("nodeConfig", "machineType"), UNKNOWN_STRING_VALUE),
]

# Resources that fail the rule unless the unknown value (their environment or namespace) is what
# keeps the rule from deciding.
FAILING_OTHERWISE = {
    ("gke-prod-private-nodes", ("resourceLabels",)): changed(
        CLUSTER_OK, ("privateClusterConfig", "enablePrivateNodes"), False
    ),
}


# Details that the one-field table cannot show --------------------------------------------------


def test_autopilot_cluster_needs_no_explicit_workload_identity():
    props = changed(changed(CLUSTER_OK, ("workloadIdentityConfig",), DELETE), ("enableAutopilot",), True)
    assert violations(gke.workload_identity, CLUSTER, props) == []


def test_prod_only_rules_leave_dev_alone():
    dev_cluster = changed(CLUSTER_OK, ("resourceLabels", "environment"), "dev")
    assert violations(gke.deletion_protection, CLUSTER, changed(dev_cluster, ("deletionProtection",), False)) == []
    dev_bucket = changed(BUCKET_OK, ("labels", "environment"), "dev")
    assert violations(storage.force_destroy, BUCKET, changed(dev_bucket, ("forceDestroy",), True)) == []


def test_environment_scope_is_configurable():
    staging = changed(changed(CLUSTER_OK, ("resourceLabels", "environment"), "staging"), ("deletionProtection",), False)
    assert violations(gke.deletion_protection, CLUSTER, staging) == []
    assert len(violations(gke.deletion_protection, CLUSTER, staging, {"environments": ["staging", "prod"]})) == 1


def test_unlabelled_cluster_is_judged_as_prod():
    props = changed(changed(CLUSTER_OK, ("resourceLabels",), DELETE), ("deletionProtection",), False)
    assert len(violations(gke.deletion_protection, CLUSTER, props)) == 1


def test_config_numbers_arrive_as_floats_from_the_engine():
    """``Configure`` passes config through a protobuf Struct: integers become floats."""
    props = changed(POOL_OK, ("autoscaling", "totalMaxNodeCount"), 5)
    assert violations(gpu.bounded_autoscaling, POOL, props, {"maxNodes": 4.0}) == [
        "GPU pool may scale to 5 nodes, above the 4 this policy allows (config maxNodes)"
    ]
