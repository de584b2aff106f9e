"""GKE cluster and node-pool guardrails (``gcp:container/cluster:Cluster``, ``.../nodePool:NodePool``).

Properties are the engine's camelCase names of pulumi-gcp 10.x (``workloadIdentityConfig``,
``nodeConfig.workloadMetadataConfig.mode``, ``privateClusterConfig.enablePrivateNodes``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import UNKNOWN, elements, environments_config, gcp_environment, get, in_scope, resource_policy

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
# GKE release channels (container.v1 ReleaseChannel.Channel, minus UNSPECIFIED).
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")


def _autopilot(props: Any) -> bool:
    return get(props, "enableAutopilot") is True


def check_workload_identity(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # Autopilot always runs Workload Identity and cannot turn it off
    # (https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-security).
    if _autopilot(props):
        return
    pool = get(props, "workloadIdentityConfig", "workloadPool")
    if pool is UNKNOWN:
        return
    if not pool:
        yield (
            "Workload Identity is off: pods would use the node service account's credentials; "
            "set workloadIdentityConfig.workloadPool to <project>.svc.id.goog"
        )
    elif not str(pool).endswith(".svc.id.goog"):
        yield f"workloadIdentityConfig.workloadPool {pool!r} is not a <project>.svc.id.goog pool"


def _metadata_messages(node_config: Any, where: str) -> Iterator[str]:
    mode = get(node_config, "workloadMetadataConfig", "mode")
    if mode is UNKNOWN or mode == "GKE_METADATA":
        return
    if mode is None:
        yield (
            f"{where} does not set workloadMetadataConfig.mode; set GKE_METADATA so pods cannot "
            "read the node's credentials from the Compute Engine metadata server"
        )
    else:
        yield (
            f"{where} uses workloadMetadataConfig.mode {mode}, which exposes the node's credentials "
            "to every pod; use GKE_METADATA"
        )


def check_metadata_server(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # A node pool (``cluster`` is its required input) must say it; a cluster's own nodeConfig
    # (its default pool) only when it has one, and never on Autopilot, where GKE owns the nodes.
    node_config = get(props, "nodeConfig")
    is_pool = get(props, "cluster") is not None
    if node_config is not UNKNOWN and (is_pool or (node_config is not None and not _autopilot(props))):
        yield from _metadata_messages(node_config, "nodeConfig")
    pools = elements(props, "nodePools")
    if pools is UNKNOWN:
        return
    for i, pool in enumerate(pools):
        node_config = get(pool, "nodeConfig")
        if node_config is not None:
            yield from _metadata_messages(node_config, f"nodePools[{i}].nodeConfig")


def check_private_nodes(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = gcp_environment(props, "resourceLabels")
    if not in_scope(env, config["environments"]):
        return
    private = get(props, "privateClusterConfig", "enablePrivateNodes")
    if private is UNKNOWN or private is True:
        return
    yield (
        f"a {env} cluster must have private nodes (no external IPs): set "
        "privateClusterConfig.enablePrivateNodes true (cluster.privateNodes in the stack config)"
    )


def check_deletion_protection(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = gcp_environment(props, "resourceLabels")
    if not in_scope(env, config["environments"]):
        return
    # pulumi-gcp defaults deletionProtection to true when it is not set.
    if get(props, "deletionProtection") is False:
        yield (
            f"a {env} cluster must keep deletionProtection true so no destroy or replacement can "
            "delete it (cluster.deletionProtection in the stack config)"
        )


def check_release_channel(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    channel = get(props, "releaseChannel", "channel")
    if channel is UNKNOWN or channel in RELEASE_CHANNELS:
        return
    yield (
        f"release channel is {channel or 'not set'}; set releaseChannel.channel to one of "
        f"{', '.join(RELEASE_CHANNELS)} so GKE upgrades the cluster on a known cadence"
    )


BINAUTHZ_ENFORCE = "PROJECT_SINGLETON_POLICY_ENFORCE"  # container.v1 BinaryAuthorization.evaluationMode


def check_binary_authorization(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = gcp_environment(props, "resourceLabels")
    if not in_scope(env, config["environments"]):
        return
    mode = get(props, "binaryAuthorization", "evaluationMode")
    if mode is UNKNOWN or mode == BINAUTHZ_ENFORCE:
        return
    yield (
        f"a {env} cluster must admit only images the project's Binary Authorization policy allows: set "
        f"binaryAuthorization.evaluationMode {BINAUTHZ_ENFORCE} (cluster.binaryAuthorization in the stack config)"
    )


workload_identity = resource_policy(
    name="gke-workload-identity",
    description="GKE clusters run Workload Identity, so pods get their own Google identity, never the node's.",
    types=[CLUSTER],
    check=check_workload_identity,
    level=EnforcementLevel.MANDATORY,
)

metadata_server = resource_policy(
    name="gke-metadata-server",
    description="Every node pool uses the GKE metadata server (GKE_METADATA), which hides node credentials from pods.",
    types=[CLUSTER, NODE_POOL],
    check=check_metadata_server,
    level=EnforcementLevel.MANDATORY,
)

private_nodes = resource_policy(
    name="gke-prod-private-nodes",
    description="Production clusters have private nodes: no node has an external IP address.",
    types=[CLUSTER],
    check=check_private_nodes,
    level=EnforcementLevel.MANDATORY,
    config={"environments": environments_config(["prod"], "whose clusters must have private nodes")},
)

deletion_protection = resource_policy(
    name="gke-prod-deletion-protection",
    description="Production clusters keep deletion protection on.",
    types=[CLUSTER],
    check=check_deletion_protection,
    level=EnforcementLevel.MANDATORY,
    config={"environments": environments_config(["prod"], "whose clusters must keep deletion protection")},
)

release_channel = resource_policy(
    name="gke-release-channel",
    description="Clusters are enrolled in a GKE release channel.",
    types=[CLUSTER],
    check=check_release_channel,
)

binary_authorization = resource_policy(
    name="gke-prod-binary-authorization",
    description="Production clusters enforce the project's Binary Authorization policy on every image.",
    types=[CLUSTER],
    check=check_binary_authorization,
    level=EnforcementLevel.MANDATORY,
    config={"environments": environments_config(["prod"], "whose clusters must enforce Binary Authorization")},
)

POLICIES = [
    workload_identity,
    metadata_server,
    private_nodes,
    deletion_protection,
    release_channel,
    binary_authorization,
]
