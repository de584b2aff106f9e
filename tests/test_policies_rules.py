"""Every rule of the policy pack, both ways, and with preview-time unknowns.

Each rule gets a happy-path resource that passes, one-field changes that fail with the exact
message, and the same resource with a value unknown at preview, which must neither raise nor
report. Resources go through ``tooling.policy_check.engine_view`` (protobuf ``Struct`` and
pulumi-policy's unknown-checking proxy, as the analyzer builds them) into the policy's real
``validate`` with real ``ResourceValidationArgs``. No test constructs ``PolicyPack``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import (
    autoscaling,
    gateway,
    gke,
    gpu,
    iam,
    images,
    pod_resources,
    pod_scheduling,
    pod_security,
    services,
    stack,
    storage,
)
from tooling.policy_check import engine_view

CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SERVICE = "kubernetes:core/v1:Service"
DELETE = object()
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def violations(policy, type_token: str, props: dict, config: dict | None = None) -> list[str]:
    """What ``policy`` reports for one resource, as the analyzer would call it."""
    found: list[str] = []
    args = ResourceValidationArgs(
        type_token, engine_view(props), f"urn:pulumi:t::p::{type_token}::r", "r", OPTS, None, config or {}, {}
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def changed(props: dict, path: tuple, value: Any) -> dict:
    """``props`` with one value replaced (or removed, with DELETE)."""
    out = copy.deepcopy(props)
    cur = out
    for key in path[:-1]:
        cur = cur[key]
    if value is DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return out


CLUSTER_OK = {
    "name": "gpu-serving-prod-gke",
    "location": "us-central1",
    "workloadIdentityConfig": {"workloadPool": "my-project.svc.id.goog"},
    "privateClusterConfig": {"enablePrivateNodes": True},
    "deletionProtection": True,
    "releaseChannel": {"channel": "STABLE"},
    "nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}},
    "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
    "resourceLabels": {"environment": "prod"},
}
POOL_OK = {
    "cluster": "gpu-serving-prod-gke",
    "name": "t4x1-n1s8",
    "location": "us-central1-a",
    "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 3},
    "nodeConfig": {
        "machineType": "n1-standard-8",
        "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1}],
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "spot": False,
        "resourceLabels": {"environment": "prod"},
    },
}
BUCKET_OK = {
    "name": "gpu-serving-prod-models-a1b2c3d4",
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
    "versioning": {"enabled": True},
    "softDeletePolicy": {"retentionDurationSeconds": 7 * 86_400},
    "forceDestroy": False,
    "labels": {"environment": "prod"},
}
MEMBER_OK = {"project": "my-project", "role": "roles/storage.objectViewer", "member": "serviceAccount:a@b.com"}
PROBE = {"httpGet": {"path": "/ping", "port": 8080}}
CONTAINER = {
    "name": "server",
    "image": "us-central1-docker.pkg.dev/p/models/t5:1.0-gpu",
    "resources": {
        "requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "4000m", "memory": "16Gi", "nvidia.com/gpu": "1"},
    },
    "readinessProbe": PROBE,
    "livenessProbe": PROBE,
    "startupProbe": PROBE,
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
}
DEPLOYMENT_OK = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "t5", "namespace": "serving", "labels": {"gke-gpu-serving/environment": "prod"}},
    "spec": {
        "replicas": 1,
        "template": {
            "metadata": {"labels": {"app": "t5"}},
            "spec": {
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
                ],
                "containers": [CONTAINER],
            },
        },
    },
}
POD = ("spec", "template", "spec")
C0 = (*POD, "containers", 0)
HPA_OK = {
    "metadata": {"name": "t5"},
    "spec": {"minReplicas": 1, "maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}},
}
LB_OK = {
    "metadata": {
        "name": "web",
        "labels": {"gke-gpu-serving/environment": "prod", "gke-gpu-serving/public-load-balancer": "true"},
    },
    "spec": {"type": "LoadBalancer"},
}

GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
GATEWAY_OK = {
    "metadata": {
        "name": "llm-gateway",
        "labels": {"gke-gpu-serving/environment": "prod", "gke-gpu-serving/public-load-balancer": "true"},
    },
    "spec": {"gatewayClassName": "gke-l7-regional-external-managed"},
}

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
    (storage.uniform_access, BUCKET, BUCKET_OK),
    (storage.public_access_prevention, BUCKET, BUCKET_OK),
    (storage.prod_versioning, BUCKET, BUCKET_OK),
    (storage.prod_soft_delete, BUCKET, BUCKET_OK),
    (storage.force_destroy, BUCKET, BUCKET_OK),
    (iam.no_authoritative_iam, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_primitive_roles, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_public_members, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_service_account_keys, "gcp:serviceaccount/account:Account", {"accountId": "serving"}),
    (pod_resources.guaranteed_resources, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_resources.probes, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_security.security_context, DEPLOYMENT, DEPLOYMENT_OK),
    (images.image_pinned, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK),
    (autoscaling.hpa_behavior, HPA, HPA_OK),
    (autoscaling.hpa_bounds, HPA, HPA_OK),
    (services.load_balancer_opt_in, SERVICE, LB_OK),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK),
]


@pytest.mark.parametrize(("policy", "type_token", "props"), HAPPY, ids=lambda v: getattr(v, "name", None))
def test_happy_path_passes(policy, type_token, props):
    assert violations(policy, type_token, props) == []


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
    (
        storage.uniform_access,
        BUCKET,
        BUCKET_OK,
        ("uniformBucketLevelAccess",),
        False,
        "bucket allows object ACLs, which can make single objects public; set "
        "uniformBucketLevelAccess true so only IAM decides access",
    ),
    (
        storage.public_access_prevention,
        BUCKET,
        BUCKET_OK,
        ("publicAccessPrevention",),
        "inherited",
        "publicAccessPrevention is inherited: a grant to allUsers would make the models "
        "public; set publicAccessPrevention to enforced",
    ),
    (
        storage.prod_versioning,
        BUCKET,
        BUCKET_OK,
        ("versioning",),
        DELETE,
        "a prod bucket must keep object versions so an overwritten model can be restored; set versioning.enabled true",
    ),
    (
        storage.prod_soft_delete,
        BUCKET,
        BUCKET_OK,
        ("softDeletePolicy", "retentionDurationSeconds"),
        0,
        "a prod bucket keeps deleted objects 0 days; soft delete must keep them at least 7 days "
        "(softDeletePolicy.retentionDurationSeconds >= 604800)",
    ),
    (
        storage.force_destroy,
        BUCKET,
        BUCKET_OK,
        ("forceDestroy",),
        True,
        "forceDestroy lets pulumi destroy delete every object of this prod bucket; set it false",
    ),
    (
        iam.no_primitive_roles,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("role",),
        "roles/editor",
        "grants the basic role roles/editor, which covers nearly every service; grant a predefined role scoped to the task",
    ),
    (
        iam.no_public_members,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("member",),
        "allUsers",
        "grants roles/storage.objectViewer to allUsers: anyone on the internet gets it; remove the member",
    ),
    (
        iam.no_public_members,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("member",),
        "allAuthenticatedUsers",
        "grants roles/storage.objectViewer to allAuthenticatedUsers: anyone with a Google account gets it; "
        "remove the member",
    ),
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "limits", "memory"),
        "32Gi",
        "container 'server' requests memory 16Gi but is limited to 32Gi; set requests equal to limits",
    ),
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "limits", "cpu"),
        DELETE,
        "container 'server' has no cpu limit; set resources.limits.cpu equal to its request "
        "(Guaranteed QoS: a GPU pod is the last one evicted)",
    ),
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "requests", "nvidia.com/gpu"),
        "2",
        "container 'server' requests nvidia.com/gpu 2 but is limited to 1; set requests equal to limits",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "readinessProbe"),
        DELETE,
        "container 'server' has no readinessProbe: traffic would reach it before the model is loaded",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "livenessProbe"),
        DELETE,
        "container 'server' has no livenessProbe: a hung server would never be restarted",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "startupProbe"),
        DELETE,
        "container 'server' has no startupProbe: loading a model takes minutes and liveness would kill the server first",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "securityContext", "runAsNonRoot"),
        DELETE,
        "container 'server' may run as root; set securityContext.runAsNonRoot true (pod or container)",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "privileged"),
        True,
        "container 'server' is privileged (every device and capability of the node); remove securityContext.privileged",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "allowPrivilegeEscalation"),
        DELETE,
        "container 'server' allows privilege escalation; set securityContext.allowPrivilegeEscalation false",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "capabilities", "drop"),
        ["NET_RAW"],
        "container 'server' keeps the runtime's default Linux capabilities; set securityContext.capabilities.drop [ALL]",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "capabilities", "add"),
        ["NET_ADMIN"],
        "container 'server' adds Linux capabilities NET_ADMIN; Pod Security 'restricted' allows adding only "
        "NET_BIND_SERVICE: remove them from securityContext.capabilities.add",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "securityContext", "seccompProfile"),
        DELETE,
        "container 'server' has no seccomp profile; set securityContext.seccompProfile.type RuntimeDefault (pod or container)",
    ),
    (
        images.image_pinned,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "image"),
        "vllm/vllm-openai:latest",
        "container 'server' image vllm/vllm-openai:latest is tagged latest in prod; pin a version tag or a digest",
    ),
    (
        images.image_pinned,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "image"),
        "localhost:5000/t5",
        "container 'server' image localhost:5000/t5 is untagged (pulls latest) in prod; pin a version tag or a digest",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "nodeSelector"),
        DELETE,
        "pod requests nvidia.com/gpu but selects no accelerator; set nodeSelector "
        "cloud.google.com/gke-accelerator or cloud.google.com/compute-class (Autopilot rejects GPU pods without one)",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "nodeSelector"),
        {"cloud.google.com/compute-class": "l4-serving", "cloud.google.com/gke-accelerator": "nvidia-l4"},
        "pod selects a compute class and cloud.google.com/gke-accelerator; GKE rejects pods that select a "
        "system label the class has a field for (priorities.gpu.type): remove the accelerator selector",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources"),
        {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "pod tolerates the nvidia.com/gpu taint but requests no GPU, so it can take and keep "
        "a GPU node awake; remove the toleration or request nvidia.com/gpu",
    ),
    (
        autoscaling.hpa_behavior,
        HPA,
        HPA_OK,
        ("spec", "behavior"),
        DELETE,
        "HPA has no spec.behavior; add one (autoscaling/v2) with fast scale-up and a scale-down "
        "stabilization window, so GPU replicas that take minutes to load are not removed on a dip",
    ),
    (
        autoscaling.hpa_behavior,
        HPA,
        HPA_OK,
        ("spec", "behavior", "scaleDown", "stabilizationWindowSeconds"),
        0,
        "HPA scales down after a 0s stabilization window, below 60s; raise "
        "spec.behavior.scaleDown.stabilizationWindowSeconds",
    ),
    (
        autoscaling.hpa_bounds,
        HPA,
        HPA_OK,
        ("spec", "minReplicas"),
        5,
        "HPA minReplicas 5 is above maxReplicas 3; the API server rejects it; lower min or raise max",
    ),
    (
        services.load_balancer_opt_in,
        SERVICE,
        LB_OK,
        ("metadata", "labels", "gke-gpu-serving/public-load-balancer"),
        DELETE,
        "a prod Service of type LoadBalancer gets a public IP (and a load balancer outside Pulumi state); "
        "label it gke-gpu-serving/public-load-balancer: 'true' to opt in, or make it internal "
        "(networking.gke.io/load-balancer-type: Internal)",
    ),
    (
        gateway.gateway_opt_in,
        GATEWAY,
        GATEWAY_OK,
        ("metadata", "labels", "gke-gpu-serving/public-load-balancer"),
        DELETE,
        "a prod Gateway of class gke-l7-regional-external-managed gets an external load balancer (outside Pulumi "
        "state); label it gke-gpu-serving/public-load-balancer: 'true' to opt in, or use an internal class "
        "(gke-l7-rilb)",
    ),
]


@pytest.mark.parametrize(
    ("policy", "type_token", "props", "path", "value", "message"),
    FAILS,
    ids=[f"{f[0].name}:{'.'.join(map(str, f[3]))}" for f in FAILS],
)
def test_one_field_change_fails_with_the_exact_message(policy, type_token, props, path, value, message):
    assert violations(policy, type_token, changed(props, path, value)) == [message]


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
    (storage.uniform_access, BUCKET, BUCKET_OK, ("uniformBucketLevelAccess",), UNKNOWN_BOOLEAN_VALUE),
    (storage.public_access_prevention, BUCKET, BUCKET_OK, ("publicAccessPrevention",), UNKNOWN_STRING_VALUE),
    (storage.prod_versioning, BUCKET, BUCKET_OK, ("versioning", "enabled"), UNKNOWN_BOOLEAN_VALUE),
    (storage.prod_soft_delete, BUCKET, BUCKET_OK, ("softDeletePolicy",), UNKNOWN_STRING_VALUE),
    (storage.force_destroy, BUCKET, BUCKET_OK, ("labels",), UNKNOWN_STRING_VALUE),
    (iam.no_primitive_roles, PROJECT_MEMBER, MEMBER_OK, ("role",), UNKNOWN_STRING_VALUE),
    (iam.no_public_members, PROJECT_MEMBER, MEMBER_OK, ("member",), UNKNOWN_STRING_VALUE),
    (pod_resources.guaranteed_resources, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "resources", "limits"), UNKNOWN_STRING_VALUE),
    (pod_resources.probes, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "readinessProbe"), UNKNOWN_STRING_VALUE),
    (pod_security.security_context, DEPLOYMENT, DEPLOYMENT_OK, (*POD, "securityContext"), UNKNOWN_STRING_VALUE),
    (images.image_pinned, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "image"), UNKNOWN_STRING_VALUE),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK, (*POD, "nodeSelector"), UNKNOWN_STRING_VALUE),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK, ("metadata", "namespace"), UNKNOWN_STRING_VALUE),
    (autoscaling.hpa_behavior, HPA, HPA_OK, ("spec", "behavior"), UNKNOWN_STRING_VALUE),
    (autoscaling.hpa_bounds, HPA, HPA_OK, ("spec", "minReplicas"), UNKNOWN_NUMBER_VALUE),
    (services.load_balancer_opt_in, SERVICE, LB_OK, ("metadata", "labels"), UNKNOWN_STRING_VALUE),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK, ("metadata", "labels"), UNKNOWN_STRING_VALUE),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK, ("spec", "gatewayClassName"), UNKNOWN_STRING_VALUE),
]


@pytest.mark.parametrize(
    ("policy", "type_token", "props", "path", "sentinel"),
    UNKNOWNS,
    ids=[f"{u[0].name}:{'.'.join(map(str, u[3]))}" for u in UNKNOWNS],
)
def test_unknown_preview_value_neither_raises_nor_reports(policy, type_token, props, path, sentinel):
    """No exception, no violation. Where the unknown is an environment label or namespace rather
    than the deciding field, the rest of the resource fails the rule (FAILING_OTHERWISE), so only
    the unknown keeps it quiet."""
    failing = FAILING_OTHERWISE.get((policy.name, path), props)
    assert violations(policy, type_token, changed(failing, path, sentinel)) == []


# Resources that fail the rule unless the unknown value (their environment or namespace) is what
# keeps the rule from deciding.
FAILING_OTHERWISE = {
    ("gke-prod-private-nodes", ("resourceLabels",)): changed(
        CLUSTER_OK, ("privateClusterConfig", "enablePrivateNodes"), False
    ),
    ("bucket-no-force-destroy", ("labels",)): changed(BUCKET_OK, ("forceDestroy",), True),
    ("k8s-gpu-scheduling", ("metadata", "namespace")): changed(DEPLOYMENT_OK, (*POD, "nodeSelector"), DELETE),
    ("k8s-prod-load-balancer-opt-in", ("metadata", "labels")): changed(
        LB_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
    ("k8s-prod-gateway-opt-in", ("metadata", "labels")): changed(
        GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
    ("k8s-prod-gateway-opt-in", ("spec", "gatewayClassName")): changed(
        GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
}


def test_a_failing_variant_really_fails():
    """The variants above fail when nothing is unknown (else the unknown tests prove nothing)."""
    policies = {p.name: (p, t) for p, t, _ in HAPPY}
    for (name, _path), props in FAILING_OTHERWISE.items():
        policy, type_token = policies[name]
        assert violations(policy, type_token, props), name


def test_every_rule_has_a_failing_case_and_an_unknown_case():
    resource_rules = {p.name for p, _, _ in HAPPY}
    failing = {f[0].name for f in FAILS}
    unknown = {u[0].name for u in UNKNOWNS}
    type_only = {"iam-no-authoritative-project-iam", "iam-no-service-account-keys"}  # tested below
    assert resource_rules - type_only <= failing
    assert resource_rules - type_only <= unknown


# Rules decided by the resource type alone ------------------------------------------------------


@pytest.mark.parametrize("type_token", iam.AUTHORITATIVE_HIERARCHY_IAM)
def test_authoritative_hierarchy_iam_fails_by_type(type_token):
    assert violations(iam.no_authoritative_iam, type_token, {"role": UNKNOWN_STRING_VALUE}) == [
        "authoritative IAM (IAMBinding/IAMPolicy) on a project, folder or organization removes every "
        "holder it does not list, including Google-managed service agents; grant with IAMMember instead"
    ]


def test_bucket_level_iam_binding_is_not_a_hierarchy_binding():
    props = {"bucket": "b", "role": "roles/storage.objectViewer", "members": ["user:a@b.com"]}
    assert violations(iam.no_authoritative_iam, "gcp:storage/bucketIAMBinding:BucketIAMBinding", props) == []


@pytest.mark.parametrize("type_token", iam.KEY_TYPES)
def test_service_account_keys_fail_by_type(type_token):
    assert violations(iam.no_service_account_keys, type_token, {"serviceAccountId": UNKNOWN_STRING_VALUE}) == [
        "creates a long-lived service-account key, which can leak and never expires; use Workload "
        "Identity (pods) or service-account impersonation (people, CI) instead"
    ]


# Details that the one-field table cannot show --------------------------------------------------


def test_iam_policy_documents_are_read_for_roles_and_members():
    doc = '{"bindings": [{"role": "roles/owner", "members": ["allUsers"]}]}'
    props = {"bucket": "b", "policyData": doc}
    kind = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
    assert len(violations(iam.no_primitive_roles, kind, props)) == 1
    assert len(violations(iam.no_public_members, kind, props)) == 1


def test_binding_members_list_is_checked():
    props = {"bucket": "b", "role": "roles/storage.objectViewer", "members": ["user:a@b.com", "allUsers"]}
    assert violations(iam.no_public_members, "gcp:storage/bucketIAMBinding:BucketIAMBinding", props) == [
        "grants roles/storage.objectViewer to allUsers: anyone on the internet gets it; remove the member"
    ]


def test_public_storage_acl_entry_is_reported():
    props = {"bucket": "b", "entity": "allUsers", "role": "READER"}
    assert violations(iam.no_public_members, "gcp:storage/bucketAccessControl:BucketAccessControl", props) == [
        "ACL entry for allUsers: the objects become readable by anyone; remove it"
    ]


def test_primitive_roles_are_configurable():
    props = changed(MEMBER_OK, ("role",), "roles/viewer")
    assert violations(iam.no_primitive_roles, PROJECT_MEMBER, props) == []
    config = {"forbiddenRoles": ["roles/owner", "roles/editor", "roles/viewer"]}
    assert len(violations(iam.no_primitive_roles, PROJECT_MEMBER, props, config)) == 1


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


def test_latest_image_is_allowed_in_dev():
    dev = changed(DEPLOYMENT_OK, ("metadata", "labels", "gke-gpu-serving/environment"), "dev")
    assert violations(images.image_pinned, DEPLOYMENT, changed(dev, (*C0, "image"), "nginx:latest")) == []


def test_digest_pinned_image_passes():
    image = "nginx@sha256:" + "a" * 64
    assert violations(images.image_pinned, DEPLOYMENT, changed(DEPLOYMENT_OK, (*C0, "image"), image)) == []


def test_unlabelled_cluster_is_judged_as_prod():
    props = changed(changed(CLUSTER_OK, ("resourceLabels",), DELETE), ("deletionProtection",), False)
    assert len(violations(gke.deletion_protection, CLUSTER, props)) == 1


def test_unlabelled_service_is_judged_as_prod():
    props = changed(LB_OK, ("metadata", "labels"), DELETE)
    assert len(violations(services.load_balancer_opt_in, SERVICE, props)) == 1


def test_internal_gateway_needs_no_opt_in():
    props = changed(GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    assert (
        violations(gateway.gateway_opt_in, GATEWAY, changed(props, ("spec", "gatewayClassName"), "gke-l7-rilb")) == []
    )


def test_a_gateway_class_the_pack_does_not_know_is_judged_external():
    props = changed(GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    assert len(violations(gateway.gateway_opt_in, GATEWAY, changed(props, ("spec", "gatewayClassName"), "x"))) == 1


def test_internal_load_balancer_needs_no_opt_in():
    props = changed(LB_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    props["metadata"]["annotations"] = {"networking.gke.io/load-balancer-type": "Internal"}
    assert violations(services.load_balancer_opt_in, SERVICE, props) == []


def test_kube_system_is_exempt_from_container_rules():
    privileged = changed(DEPLOYMENT_OK, (*C0, "securityContext", "privileged"), True)
    system = changed(privileged, ("metadata", "namespace"), "kube-system")
    assert violations(pod_security.security_context, DEPLOYMENT, system) == []
    assert violations(pod_security.security_context, DEPLOYMENT, privileged) != []


def _root_adapter(add: list[str]) -> dict:
    root = changed(DEPLOYMENT_OK, (*POD, "securityContext", "runAsNonRoot"), DELETE)
    root["metadata"] = {"name": "custom-metrics-stackdriver-adapter", "namespace": "custom-metrics"}
    return changed(root, (*C0, "securityContext", "capabilities"), {"drop": ["ALL"], "add": add})


def test_the_waived_root_workload_passes_with_only_net_bind_service():
    assert violations(pod_security.security_context, DEPLOYMENT, _root_adapter(["NET_BIND_SERVICE"])) == []


def test_a_waived_root_workload_may_also_keep_no_capability_at_all():
    assert violations(pod_security.security_context, DEPLOYMENT, _root_adapter([])) == []


def test_the_waived_root_workload_fails_with_any_other_capability():
    found = violations(pod_security.security_context, DEPLOYMENT, _root_adapter(["NET_BIND_SERVICE", "SYS_ADMIN"]))
    assert any("may run as root" in f for f in found) and any("SYS_ADMIN" in f for f in found)


def test_root_with_net_bind_service_is_refused_for_a_workload_not_waived():
    other = changed(_root_adapter(["NET_BIND_SERVICE"]), ("metadata", "name"), "other")
    assert violations(pod_security.security_context, DEPLOYMENT, other) == [
        "container 'server' may run as root; set securityContext.runAsNonRoot true (pod or container)"
    ]


def test_a_named_workload_can_be_exempted_in_config():
    privileged = changed(DEPLOYMENT_OK, (*C0, "securityContext", "privileged"), True)
    config = {"exemptWorkloads": ["serving/t5"]}
    assert violations(pod_security.security_context, DEPLOYMENT, privileged, config) == []


def test_jobs_need_no_probes_but_their_cronjob_pods_are_read():
    job = changed(DEPLOYMENT_OK, (*C0, "livenessProbe"), DELETE) | {"kind": "Job", "apiVersion": "batch/v1"}
    assert violations(pod_resources.probes, "kubernetes:batch/v1:Job", job) == []
    cron = {
        "kind": "CronJob",
        "metadata": DEPLOYMENT_OK["metadata"],
        "spec": {"jobTemplate": {"spec": changed(DEPLOYMENT_OK, (*C0, "image"), "t5:latest")["spec"]}},
    }
    assert len(violations(images.image_pinned, "kubernetes:batch/v1:CronJob", cron)) == 1


def test_daemonset_may_tolerate_gpu_nodes_without_requesting_gpus():
    cpu_only = changed(DEPLOYMENT_OK, (*C0, "resources"), {"limits": {"cpu": "1", "memory": "1Gi"}})
    daemonset = cpu_only | {"kind": "DaemonSet"}
    assert violations(pod_scheduling.gpu_scheduling, "kubernetes:apps/v1:DaemonSet", daemonset) == []


def test_gpu_pod_on_a_compute_class_selects_the_class_alone():
    on_class = changed(DEPLOYMENT_OK, (*POD, "nodeSelector"), {"cloud.google.com/compute-class": "l4-serving"})
    assert violations(pod_scheduling.gpu_scheduling, DEPLOYMENT, on_class) == []


def test_limits_alone_are_guaranteed():
    """Kubernetes copies a limit into a missing request."""
    props = changed(DEPLOYMENT_OK, (*C0, "resources", "requests"), DELETE)
    assert violations(pod_resources.guaranteed_resources, DEPLOYMENT, props) == []


def test_soft_delete_defaults_to_seven_days_when_not_set():
    props = changed(BUCKET_OK, ("softDeletePolicy",), DELETE)
    assert violations(storage.prod_soft_delete, BUCKET, props) == []
    assert len(violations(storage.prod_soft_delete, BUCKET, props, {"minRetentionDays": 30})) == 1


def test_config_numbers_arrive_as_floats_from_the_engine():
    """``Configure`` passes config through a protobuf Struct: integers become floats."""
    props = changed(POOL_OK, ("autoscaling", "totalMaxNodeCount"), 5)
    assert violations(gpu.bounded_autoscaling, POOL, props, {"maxNodes": 4.0}) == [
        "GPU pool may scale to 5 nodes, above the 4 this policy allows (config maxNodes)"
    ]


def test_rules_ignore_other_resource_types():
    assert violations(storage.uniform_access, CLUSTER, {"uniformBucketLevelAccess": False}) == []


# Stack policies ---------------------------------------------------------------------------------


def stack_violations(policy, resources: list[tuple[str, str, dict]], config: dict | None = None):
    found: list[tuple[str, str | None]] = []
    items = [
        PolicyResource(t, engine_view(p), f"urn:pulumi:t::p::{t}::{n}", n, OPTS, None, None, [], {})
        for t, n, p in resources
    ]
    policy.validate(StackValidationArgs(items, config or {}, {}), lambda m, urn=None: found.append((m, urn)))
    return found


def pool(name: str, *, max_nodes: int = 3, gpus: int = 1, spot: bool = False, env: str = "prod", **nc) -> tuple:
    props = changed(POOL_OK, ("autoscaling", "totalMaxNodeCount"), max_nodes)
    props = changed(props, ("nodeConfig", "guestAccelerators", 0, "count"), gpus)
    props = changed(props, ("nodeConfig", "spot"), spot)
    props = changed(props, ("nodeConfig", "resourceLabels", "environment"), env)
    props["name"] = name
    props["nodeConfig"].update(nc)
    return (POOL, name, props)


def test_budget_passes_within_and_fails_above():
    assert stack_violations(stack.gpu_budget, [pool("a", max_nodes=8), pool("b", max_nodes=4, gpus=2)]) == []
    assert stack_violations(stack.gpu_budget, [pool("a", max_nodes=8), pool("b", max_nodes=5, gpus=2)]) == [
        (
            "GPU pools of prod can scale to 18 GPUs (a 8, b 10), above its budget of 16; "
            "lower maxNodes or raise budgets.prod in the policy config",
            None,
        )
    ]


def test_budget_is_per_environment_and_configurable():
    pools = [pool("a", max_nodes=6, env="dev")]
    assert len(stack_violations(stack.gpu_budget, pools)) == 1
    assert stack_violations(stack.gpu_budget, pools, {"budgets": {"dev": 6.0}}) == []


def test_budget_counts_per_zone_maximum_times_zones():
    per_zone = pool("a")
    per_zone[2]["autoscaling"] = {"minNodeCount": 0, "maxNodeCount": 3}
    per_zone[2]["nodeLocations"] = ["us-central1-a", "us-central1-b"]
    assert stack.max_gpus(engine_view(per_zone[2])) == 6


def test_budget_skips_unknown_pools_but_reports_a_known_excess():
    unknown = pool("u")
    unknown[2]["autoscaling"]["totalMaxNodeCount"] = UNKNOWN_NUMBER_VALUE
    assert stack_violations(stack.gpu_budget, [unknown]) == []
    found = stack_violations(stack.gpu_budget, [unknown, pool("big", max_nodes=17)])
    assert [m for m, _ in found] == [
        "GPU pools of prod can scale to 17 GPUs (big 17), above its budget of 16; "
        "lower maxNodes or raise budgets.prod in the policy config"
    ]


def test_prod_spot_only_pools_fail_and_an_on_demand_pool_fixes_it():
    only_spot = [pool("t4-spot", spot=True)]
    assert stack_violations(stack.on_demand_capacity, only_spot) == [
        (
            "every nvidia-tesla-t4 pool of prod is spot (t4-spot): one reclaim can take all nvidia-tesla-t4 "
            "serving capacity at once; add an on-demand nvidia-tesla-t4 pool (spot false, minNodes 0 is enough)",
            f"urn:pulumi:t::p::{POOL}::t4-spot",
        )
    ]
    assert stack_violations(stack.on_demand_capacity, [*only_spot, pool("t4")]) == []


def test_spot_only_outside_prod_and_unknown_spot_are_fine():
    assert stack_violations(stack.on_demand_capacity, [pool("t4-spot", spot=True, env="dev")]) == []
    unknown = pool("t4-spot", spot=True)
    unknown[2]["nodeConfig"]["spot"] = UNKNOWN_BOOLEAN_VALUE
    assert stack_violations(stack.on_demand_capacity, [unknown]) == []


def test_unlabelled_pool_takes_the_environment_of_the_only_cluster():
    bare = pool("t4-spot", spot=True)
    del bare[2]["nodeConfig"]["resourceLabels"]
    dev_cluster = (CLUSTER, "c", changed(CLUSTER_OK, ("resourceLabels", "environment"), "dev"))
    assert stack_violations(stack.on_demand_capacity, [dev_cluster, bare]) == []
    assert len(stack_violations(stack.on_demand_capacity, [bare])) == 1


# Flow logs (stack policy) -----------------------------------------------------------------------

SUBNET = "gcp:compute/subnetwork:Subnetwork"
SUBNET_OK = {
    "name": "gpu-serving-prod-nodes",
    "logConfig": {"flowSampling": 0.5, "aggregationInterval": "INTERVAL_5_SEC"},
}


def test_a_prod_stack_subnetwork_with_flow_logs_passes():
    assert stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", SUBNET_OK)]) == []


def test_a_prod_stack_subnetwork_without_flow_logs_is_reported():
    (violation,) = stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", {"name": "n"})])
    assert violation[0] == (
        "subnetwork n of a prod cluster logs no flows: set logConfig with flowSampling > 0 "
        "(network.flowLogs in the stack config)"
    )


def test_zero_flow_sampling_logs_no_flows():
    sampled_none = {**SUBNET_OK, "logConfig": {"flowSampling": 0}}
    assert len(stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", sampled_none)])) == 1


def test_a_dev_stack_subnetwork_needs_no_flow_logs():
    dev = changed(CLUSTER_OK, ("resourceLabels", "environment"), "dev")
    assert stack_violations(stack.flow_logs, [(CLUSTER, "c", dev), (SUBNET, "s", {"name": "n"})]) == []
