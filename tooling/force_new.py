"""Which property changes replace a resource instead of updating it, per provider resource type.

The offline diff (:mod:`tooling.plan_diff`) marks a change as a replacement when its path is one
of these force-new fields, taken from the providers' own schemas (cited per table).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ANY_CHANGE = "*"

# pulumi-gcp 10.2.0 bridges the Terraform Google provider; a field with `ForceNew: true` in its
# schema makes Pulumi replace the resource. Sources (hashicorp/terraform-provider-google):
#   google/services/container/node_config.go   schemaNodeConfig()   (node pools and clusters)
#   google/services/container/resource_container_node_pool.go       (project, cluster, location,
#       name, name_prefix, initial_node_count, max_pods_per_node, placement_policy,
#       queued_provisioning)
#   google/services/container/resource_container_cluster.go         (name, location and
#       enable_autopilot read there; the network/IP fields below are ForceNew in the same file)
#   google/services/storage/resource_storage_bucket.go, the artifactregistry, compute, iam and
#       resourcemanager resources: identity fields (name/ID, location or region, project) and
#       every field of the non-authoritative *IAMMember resources.
# Note: nodeConfig.machineType, diskSizeGb, diskType, imageType, labels, taints and tags are
# updated IN PLACE by current providers (GKE re-creates the nodes, not the pool). This stack
# derives each GPU pool's GKE name from its hardware (t4x1-n1s8), so a machine-type change
# still replaces the pool — through `name`.
NODE_CONFIG_FORCE_NEW = (
    "guestAccelerators",
    "spot",
    "preemptible",
    "serviceAccount",
    "oauthScopes",
    "metadata",
    "shieldedInstanceConfig",
    "gcfsConfig",
    "gvnic",
    "localSsdCount",
    "minCpuPlatform",
    "reservationAffinity",
    "ephemeralStorageLocalSsdConfig",
    "localNvmeSsdBlockConfig",
    "secondaryBootDisks",
)
_NODE_CONFIG = tuple(f"nodeConfig.{field}" for field in NODE_CONFIG_FORCE_NEW)
_IAM_MEMBER = (ANY_CHANGE,)

FORCE_NEW: dict[str, tuple[str, ...]] = {
    "gcp:container/cluster:Cluster": (
        "name",
        "location",
        "project",
        "enableAutopilot",
        "network",
        "subnetwork",
        "ipAllocationPolicy",
        "networkingMode",
        "datapathProvider",
        "privateClusterConfig.masterIpv4CidrBlock",
        "defaultMaxPodsPerNode",
        "enableKubernetesAlpha",
        "initialNodeCount",
        "description",
        *_NODE_CONFIG,
    ),
    "gcp:container/nodePool:NodePool": (
        "name",
        "namePrefix",
        "location",
        "cluster",
        "project",
        "initialNodeCount",
        "maxPodsPerNode",
        "placementPolicy",
        "queuedProvisioning",
        *_NODE_CONFIG,
    ),
    "gcp:storage/bucket:Bucket": ("name", "location", "project"),
    # remote_repository_config and kms_key_name are ForceNew too (resource_artifact_registry_repository.go).
    "gcp:artifactregistry/repository:Repository": (
        "repositoryId",
        "location",
        "format",
        "mode",
        "project",
        "remoteRepositoryConfig",
        "kmsKeyName",
    ),
    "gcp:compute/network:Network": ("name", "project", "autoCreateSubnetworks", "description"),
    "gcp:compute/subnetwork:Subnetwork": ("name", "network", "region", "project"),
    "gcp:compute/router:Router": ("name", "network", "region", "project"),
    "gcp:compute/routerNat:RouterNat": ("name", "router", "region", "project"),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    # Monitoring: only the project moves them (dashboardJson and conditions update in place).
    "gcp:monitoring/dashboard:Dashboard": ("project",),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("project",),
    "gcp:projects/service:Service": ("service", "project"),
    "gcp:projects/iAMMember:IAMMember": _IAM_MEMBER,
    "gcp:serviceaccount/iAMMember:IAMMember": _IAM_MEMBER,
    "gcp:storage/bucketIAMMember:BucketIAMMember": _IAM_MEMBER,
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _IAM_MEMBER,
    # pulumi-random: every input of a random resource replaces it (RequiresReplace).
    "random:index/randomId:RandomId": (ANY_CHANGE,),
}
# pulumi-kubernetes replaces an object whose name or namespace changes, and one whose
# immutable fields change (Kubernetes API: apps/v1 spec.selector, Job spec.template,
# Service spec.clusterIP, PersistentVolumeClaim spec except resources).
KUBERNETES_FORCE_NEW = ("metadata.name", "metadata.namespace")
KUBERNETES_KIND_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:DaemonSet": ("spec.selector",),
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"),
    "kubernetes:batch/v1:Job": ("spec.selector", "spec.template"),
    "kubernetes:core/v1:Service": ("spec.clusterIP", "spec.clusterIPs"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeName"),
}


def force_new_paths(type_token: str) -> tuple[str, ...]:
    """The property paths (prefixes) whose change replaces a resource of ``type_token``."""
    if type_token.startswith("kubernetes:"):
        return KUBERNETES_FORCE_NEW + KUBERNETES_KIND_FORCE_NEW.get(type_token, ())
    return FORCE_NEW.get(type_token, ())


_INDEX = re.compile(r"\[\d+\]")
_KEY = re.compile(r'\["([^"]*)"\]')


def _normalized(path: str) -> str:
    """``nodeConfig.guestAccelerators[0].type`` -> ``nodeConfig.guestAccelerators.type``."""
    return _KEY.sub(r".\1", _INDEX.sub("", path))


def covered(path: str, prefixes: Iterable[str]) -> bool:
    norm = _normalized(path)
    return any(p == ANY_CHANGE or norm == p or norm.startswith(p + ".") for p in prefixes)


def forces_replacement(type_token: str, path: str) -> bool:
    return covered(path, force_new_paths(type_token))


# --- The saved document ----------------------------------------------------------------------
