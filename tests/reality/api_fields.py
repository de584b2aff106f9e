"""What each Google Cloud resource the stacks register becomes on the wire, for the Discovery check.

The pulumi-gcp provider (the Terraform provider underneath) sends most inputs to the API under
the same camelCase path; where it does not, this table says where the value goes, citing the
provider's expander (hashicorp/terraform-provider-google, ``google/services/<service>/``). An
input not listed here is sent as it is named, so a field the API does not know fails the check:
every input the stacks set is either in the API's own schema or named here as provider-only,
with the reason.

``translate`` builds the API request body from a captured resource's inputs; ``errors`` in
:mod:`tests.reality.discovery` then checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApiShape:
    """Where a pulumi-gcp resource's inputs go in one Google API request body."""

    doc: str  # Discovery document, e.g. container.v1
    schema: str  # the request body's schema in it
    at: str | None = None  # a field inside that schema, when the body is one (``bindings[]``)
    # Inputs the provider does not send in the body: path or query parameters, and provider-only switches.
    provider_only: dict[str, str] = field(default_factory=dict)
    # Pulumi path -> API path (a prefix rename; ``[]`` marks array steps), with the value it takes.
    renames: dict[str, str] = field(default_factory=dict)
    values: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Whole-body reshaping the provider does (a list that becomes a map, a member list).
    reshape: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    source: str = ""


PATH_PARAMS = "a path or query parameter of the API call, not a body field"


def _cleanup_map(body: dict[str, Any]) -> dict[str, Any]:
    # resource_artifact_registry_repository.go: cleanup_policies (a set with id) -> map id -> policy.
    policies = body.pop("cleanupPolicies", None)
    if policies is not None:
        body["cleanupPolicies"] = {p["id"]: {k: v for k, v in p.items() if k != "id"} for p in policies}
    return body


def _iam_binding(body: dict[str, Any]) -> dict[str, Any]:
    # *_iam_member resources read the policy, add the member to the role's binding, write it back.
    return {"role": body["role"], "members": [body["member"]]}


def _service_account(body: dict[str, Any]) -> dict[str, Any]:
    # resource_google_service_account.go: projects.serviceAccounts.create(accountId, serviceAccount{...}).
    return {
        "accountId": body["accountId"],
        "serviceAccount": {k: v for k, v in body.items() if k in ("displayName", "description")},
    }


def _subnetwork(body: dict[str, Any]) -> dict[str, Any]:
    # resource_compute_subnetwork.go expandComputeSubnetworkLogConfig: a log_config block is sent
    # with enable: true, no block as enable: false, except for a proxy-only subnet, which gets no
    # logConfig at all ("Subnetworks for regional L7 ILB/XLB or cross-regional L7 ILB do not accept any
    # values for logConfig", same function; terraform-provider-google e03b7622).
    if "logConfig" in body:
        body["logConfig"] = {**body["logConfig"], "enable": True}
    elif body.get("purpose") not in ("REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER"):
        body["logConfig"] = {"enable": False}
    return body


def _dashboard(body: dict[str, Any]) -> dict[str, Any]:
    # resource_monitoring_dashboard.go: dashboard_json is the request body itself.
    return json.loads(body["dashboardJson"])


CONTAINER_PROVIDER = "hashicorp/terraform-provider-google google/services/container/"

SHAPES: dict[str, ApiShape] = {
    "gcp:container/cluster:Cluster": ApiShape(
        "container.v1",
        "Cluster",
        provider_only={
            "project": PATH_PARAMS,
            "location": PATH_PARAMS,
            "deletionProtection": "the provider's own guard against deleting the cluster",
            "removeDefaultNodePool": "the provider deletes the default pool after creation",
        },
        renames={
            "networkingMode": "ipAllocationPolicy.useIpAliases",
            "monitoringConfig.enableComponents": "monitoringConfig.componentConfig.enableComponents",
            "monitoringConfig.managedPrometheus": "monitoringConfig.managedPrometheusConfig",
            "enableShieldedNodes": "shieldedNodes.enabled",
            "datapathProvider": "networkConfig.datapathProvider",
            "enableAutopilot": "autopilot.enabled",
            "clusterAutoscaling.autoProvisioningDefaults": "autoscaling.autoprovisioningNodePoolDefaults",
            # expandClusterAutoscaling: enabled -> EnableNodeAutoprovisioning (resource_container_cluster.go).
            "clusterAutoscaling.enabled": "autoscaling.enableNodeAutoprovisioning",
            "clusterAutoscaling": "autoscaling",
            "loggingConfig.enableComponents": "loggingConfig.componentConfig.enableComponents",
            "enableIntranodeVisibility": "networkConfig.enableIntraNodeVisibility",
            # resource_container_cluster.go: NetworkConfig.GatewayApiConfig = expandGatewayApiConfig(...).
            "gatewayApiConfig": "networkConfig.gatewayApiConfig",
        },
        # networking_mode VPC_NATIVE is alias IPs (resource_container_cluster.go expandIPAllocationPolicy).
        values={"networkingMode": lambda v: v == "VPC_NATIVE"},
        source=CONTAINER_PROVIDER + "resource_container_cluster.go",
    ),
    "gcp:container/nodePool:NodePool": ApiShape(
        "container.v1",
        "NodePool",
        provider_only={"project": PATH_PARAMS, "location": PATH_PARAMS, "cluster": PATH_PARAMS},
        renames={
            "nodeLocations": "locations",
            "nodeConfig": "config",
            "nodeConfig.guestAccelerators[].type": "config.accelerators[].acceleratorType",
            "nodeConfig.guestAccelerators[].count": "config.accelerators[].acceleratorCount",
            "nodeConfig.guestAccelerators": "config.accelerators",
        },
        source=CONTAINER_PROVIDER + "resource_container_node_pool.go, node_config.go",
    ),
    "gcp:storage/bucket:Bucket": ApiShape(
        "storage.v1",
        "Bucket",
        provider_only={
            "project": PATH_PARAMS,
            "forceDestroy": "the provider empties the bucket before deleting it",
        },
        renames={
            "uniformBucketLevelAccess": "iamConfiguration.uniformBucketLevelAccess.enabled",
            "publicAccessPrevention": "iamConfiguration.publicAccessPrevention",
            "lifecycleRules": "lifecycle.rule",
            "lifecycleRules[].condition.withState": "lifecycle.rule[].condition.isLive",
        },
        # with_state LIVE/ARCHIVED -> isLive true/false (resource_storage_bucket.go expandStorageBucketLifecycleRuleCondition).
        values={"lifecycleRules[].condition.withState": lambda v: {"LIVE": True, "ARCHIVED": False}[v]},
        source="hashicorp/terraform-provider-google google/services/storage/resource_storage_bucket.go",
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ApiShape(
        "storage.v1", "Policy", at="bindings[]", provider_only={"bucket": PATH_PARAMS}, reshape=_iam_binding
    ),
    "gcp:projects/iAMMember:IAMMember": ApiShape(
        "cloudresourcemanager.v1", "Binding", provider_only={"project": PATH_PARAMS}, reshape=_iam_binding
    ),
    "gcp:serviceaccount/iAMMember:IAMMember": ApiShape(
        "iam.v1", "Binding", provider_only={"serviceAccountId": PATH_PARAMS}, reshape=_iam_binding
    ),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": ApiShape(
        "artifactregistry.v1",
        "Binding",
        provider_only={"project": PATH_PARAMS, "location": PATH_PARAMS, "repository": PATH_PARAMS},
        reshape=_iam_binding,
    ),
    "gcp:serviceaccount/account:Account": ApiShape(
        "iam.v1", "CreateServiceAccountRequest", provider_only={"project": PATH_PARAMS}, reshape=_service_account
    ),
    "gcp:artifactregistry/repository:Repository": ApiShape(
        "artifactregistry.v1",
        "Repository",
        provider_only={"project": PATH_PARAMS, "location": PATH_PARAMS, "repositoryId": PATH_PARAMS},
        reshape=_cleanup_map,
    ),
    "gcp:compute/network:Network": ApiShape(
        "compute.v1",
        "Network",
        provider_only={"project": PATH_PARAMS},
        renames={"routingMode": "routingConfig.routingMode"},
    ),
    "gcp:compute/subnetwork:Subnetwork": ApiShape(
        "compute.v1", "Subnetwork", provider_only={"project": PATH_PARAMS}, reshape=_subnetwork
    ),
    "gcp:compute/router:Router": ApiShape("compute.v1", "Router", provider_only={"project": PATH_PARAMS}),
    "gcp:compute/routerNat:RouterNat": ApiShape(
        "compute.v1",
        "RouterNat",
        provider_only={"project": PATH_PARAMS, "region": PATH_PARAMS, "router": PATH_PARAMS},
        # resource_compute_router_nat.go: subnetwork.source_ip_ranges_to_nat (plural in the provider).
        renames={"subnetworks[].sourceIpRangesToNats": "subnetworks[].sourceIpRangesToNat"},
    ),
    "gcp:compute/firewall:Firewall": ApiShape(
        "compute.v1",
        "Firewall",
        provider_only={"project": PATH_PARAMS},
        renames={"allows": "allowed", "denies": "denied"},
    ),
    "gcp:monitoring/alertPolicy:AlertPolicy": ApiShape(
        "monitoring.v3", "AlertPolicy", provider_only={"project": PATH_PARAMS}
    ),
    "gcp:monitoring/dashboard:Dashboard": ApiShape(
        "monitoring.v1", "Dashboard", provider_only={"project": PATH_PARAMS}, reshape=_dashboard
    ),
}

# Resources whose whole input is a path parameter or provider bookkeeping: nothing to check in a body.
NO_BODY = {
    "gcp:projects/service:Service": "services.enable takes the service name in the path (checked on its own)",
}


def _steps(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def _leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if key.startswith("__"):  # the SDK's own bookkeeping (``__defaults``)
                continue
            out += _leaves(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for i, item in enumerate(value):
            out += _leaves(item, f"{path}[{i}]")
        return out
    return [(path, value)]


def _rename(path: str, renames: dict[str, str]) -> str:
    """Apply the longest rename whose (index-free) prefix matches ``path``, keeping indices."""
    plain = _steps(path)
    for src in sorted(renames, key=len, reverse=True):
        if plain == src or plain.startswith(src + ".") or plain.startswith(src + "["):
            # Walk the concrete path step by step so array indices survive the rename.
            indices = re.findall(r"\[(\d+)\]", path[: _concrete_len(path, src)])
            dst = renames[src]
            for i in indices:
                dst = dst.replace("[]", f"[{i}]", 1)
            return dst + path[_concrete_len(path, src) :]
    return path


def _concrete_len(path: str, plain_prefix: str) -> int:
    """Length of the concrete ``path`` prefix that corresponds to the index-free ``plain_prefix``."""
    i = j = 0
    while j < len(plain_prefix):
        if plain_prefix.startswith("[]", j):
            close = path.index("]", i)
            i, j = close + 1, j + 2
        else:
            i, j = i + 1, j + 1
    return i


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node: Any = body
    for here, nxt in zip(parts, [*parts[1:], None], strict=True):
        key: Any = int(here[1:-1]) if here.startswith("[") else here
        if nxt is None:
            _put(node, key, value)
            return
        child: Any = [] if nxt.startswith("[") else {}
        if isinstance(node, list):
            while len(node) <= key:
                node.append(None)
            if node[key] is None:
                node[key] = child
            node = node[key]
        else:
            node = node.setdefault(key, child)


def _put(node: Any, key: Any, value: Any) -> None:
    if isinstance(node, list):
        while len(node) <= key:
            node.append(None)
    node[key] = value


def translate(type_token: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The API request body a captured resource's inputs become."""
    shape = SHAPES[type_token]
    body: dict[str, Any] = {}
    for path, value in _leaves(inputs):
        plain = _steps(path)
        if any(plain == p or plain.startswith(p + ".") or plain.startswith(p + "[") for p in shape.provider_only):
            continue
        if plain in shape.values:
            value = shape.values[plain](value)
        _set(body, _rename(path, shape.renames), value)
    return shape.reshape(body) if shape.reshape else body
