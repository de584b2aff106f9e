"""Rules the provider itself enforces before any API call, checked on what the stacks send.

Source: hashicorp/terraform-provider-google at e03b7622 (2026-08-21, the provider under
pulumi-gcp 10.x), google/services/container/resource_container_cluster.go: the schema fields
declared ``ConflictsWith: []string{"enable_autopilot"}``. A plan that sets one of them on an
Autopilot cluster fails at ``pulumi preview``, whatever the mocks say.
"""

from __future__ import annotations

import pytest

from tests.reality.captures import CAPTURES

CLUSTER = "gcp:container/cluster:Cluster"
# The pulumi input paths of those fields (the provider's snake_case names, camelCased).
AUTOPILOT_CONFLICTS = (
    "addonsConfig.networkPolicyConfig",
    "addonsConfig.dnsCacheConfig",
    "addonsConfig.statefulHaConfig",
    "clusterAutoscaling.enabled",
    "clusterAutoscaling.resourceLimits",
    "binaryAuthorization.enabled",
    "enableShieldedNodes",
    "networkPolicy",
    "nodePools",
    "removeDefaultNodePool",
    "defaultMaxPodsPerNode",
    "enableIntranodeVisibility",
)


def _has(inputs: dict, path: str) -> bool:
    node = inputs
    for step in path.split("."):
        if not isinstance(node, dict) or step not in node:
            return False
        node = node[step]
    return node is not None


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_autopilot_clusters_set_no_field_the_provider_rejects_with_autopilot(label, get):
    for cluster in get().of_type(CLUSTER):
        if cluster.inputs.get("enableAutopilot"):
            assert [p for p in AUTOPILOT_CONFLICTS if _has(cluster.inputs, p)] == []


def test_the_check_sees_a_conflicting_field():
    assert _has({"addonsConfig": {"networkPolicyConfig": {"disabled": True}}}, "addonsConfig.networkPolicyConfig")
    assert not _has({"addonsConfig": {}}, "addonsConfig.networkPolicyConfig")
