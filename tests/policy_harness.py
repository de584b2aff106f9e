"""What the policy rule tests share: a rule run as the analyzer runs it, one-field changes, and a
resource of each kind that passes every rule.

Resources go through ``tooling.policy_check.engine_view`` (protobuf ``Struct`` and
pulumi-policy's unknown-checking proxy, as the analyzer builds them) into the policy's real
``validate`` with real ``ResourceValidationArgs``. No test constructs ``PolicyPack``.
"""

from __future__ import annotations

import copy
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from tooling.policy_check import engine_view

CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SERVICE = "kubernetes:core/v1:Service"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
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
GATEWAY_OK = {
    "metadata": {
        "name": "llm-gateway",
        "labels": {"gke-gpu-serving/environment": "prod", "gke-gpu-serving/public-load-balancer": "true"},
    },
    "spec": {"gatewayClassName": "gke-l7-regional-external-managed"},
}
