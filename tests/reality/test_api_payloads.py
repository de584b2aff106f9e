"""What the stacks send to Google's APIs, checked against Google's own API definitions.

Every Google Cloud resource of every example stack (and of a few variant configs that reach the
other branches) becomes the request body the provider sends (:mod:`tests.reality.api_fields`),
which must conform to the schema in the pinned Discovery document: no unknown field, no value
outside an enum, no output-only field, durations as durations. The mocks accept anything; this
does not. The tables the code draws enum values from are checked value by value as well, so a
value no example stack uses yet is covered too.
"""

from __future__ import annotations

import inspect
import json

import pulumi_gcp as gcp
import pytest

from infra import cluster_spec, config, network, node_pools, registry
from tests.conftest import STACKS, stack_capture
from tests.reality import api_fields, discovery
from tests.reality.captures import CAPTURES

# Deprecated API fields the provider still sends, and the only way pulumi-gcp 10.2.0 offers to
# set what they set. Anything else deprecated fails: use the field that replaces it.
PROVIDER_FORCED_DEPRECATIONS = {
    # The provider creates the default pool from the cluster's top-level node_config and
    # initial_node_count, then deletes it (remove_default_node_pool); it has no other input.
    "Cluster.initialNodeCount": "the transient default pool (remove_default_node_pool)",
    "Cluster.nodeConfig": "the transient default pool (remove_default_node_pool)",
    # Replaced by networkConfig.defaultEnablePrivateNodes and controlPlaneEndpointsConfig.ipEndpointsConfig,
    # which pulumi-gcp 10.2.0's Cluster does not expose (its ipEndpointsConfig has only `enabled`).
    "Cluster.privateClusterConfig.enablePrivateNodes": "no networkConfig.defaultEnablePrivateNodes input",
    "Cluster.privateClusterConfig.enablePrivateEndpoint": "no ipEndpointsConfig.enablePublicEndpoint input",
    "Cluster.masterAuthorizedNetworksConfig": "no ipEndpointsConfig.authorizedNetworksConfig input",
}


def _google_resources():
    for label, get in CAPTURES:
        for res in get().resources:
            if res.custom and res.type.startswith("gcp:"):
                yield label, res


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_every_google_resource_type_has_a_known_request_body(label, get):
    unknown = {r.type for r in get().resources if r.custom and r.type.startswith("gcp:")}
    unknown -= set(api_fields.SHAPES) | set(api_fields.NO_BODY)
    assert not unknown, f"{label}: add these to tests/reality/api_fields.py: {sorted(unknown)}"


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_every_request_body_conforms_to_the_discovery_schema(label, get):
    problems = []
    for res in get().resources:
        shape = api_fields.SHAPES.get(res.type)
        if shape is None:
            continue
        body = api_fields.translate(res.type, res.inputs)
        problems += [f"{res.name}: {e}" for e in discovery.errors(shape.doc, shape.schema, body, shape.at)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_deprecated_fields_are_only_those_the_provider_forces(label, get):
    found = set()
    for res in get().resources:
        shape = api_fields.SHAPES.get(res.type)
        if shape is not None:
            found |= set(discovery.deprecations(shape.doc, shape.schema, api_fields.translate(res.type, res.inputs)))
    assert found <= set(PROVIDER_FORCED_DEPRECATIONS), sorted(found - set(PROVIDER_FORCED_DEPRECATIONS))


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_charts_hold_promql_in_a_time_series_query(stack):
    dashboard = json.loads(stack_capture(stack).one("gcp:monitoring/dashboard:Dashboard").inputs["dashboardJson"])
    data_sets = [d for t in dashboard["mosaicLayout"]["tiles"] for d in t["widget"]["xyChart"]["dataSets"]]
    assert data_sets
    for data_set in data_sets:
        assert discovery.errors("monitoring.v1", "DataSet", data_set) == []
        assert data_set["timeSeriesQuery"]["prometheusQuery"]


@pytest.mark.parametrize("stack", STACKS)
def test_promql_alert_conditions_skip_metric_validation_for_a_new_project(stack):
    # Monitoring v3: "Whether to disable metric existence validation for this condition. This
    # allows alerting policies to be defined on metrics that do not yet exist".
    assert (
        "metrics that do not yet exist"
        in discovery.field("monitoring.v3", "PrometheusQueryLanguageCondition", "disableMetricValidation")[
            "description"
        ]
    )
    policies = stack_capture(stack).of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    assert policies
    for policy in policies:
        for condition in policy.inputs["conditions"]:
            assert condition["conditionPrometheusQueryLanguage"]["disableMetricValidation"] is True, policy.name


def test_enabled_services_are_google_apis():
    # containerfilesystem.googleapis.com (image streaming) has no public REST surface and so no
    # Discovery document; GKE's image streaming page names it:
    # https://cloud.google.com/kubernetes-engine/docs/how-to/image-streaming#requirements
    without_document = {"containerfilesystem.googleapis.com"}
    services = {r.inputs["service"] for _, r in _google_resources() if r.type == "gcp:projects/service:Service"}
    assert services
    assert services - without_document <= discovery.api_hosts(), sorted(services - discovery.api_hosts())


def test_every_monitoring_component_is_a_container_api_value():
    allowed = discovery.enum("container.v1", "MonitoringComponentConfig", "enableComponents[]")
    assert set(cluster_spec.MONITORING_COMPONENTS) <= set(allowed)


def test_every_driver_version_is_a_container_api_value():
    allowed = discovery.enum("container.v1", "GPUDriverInstallationConfig", "gpuDriverVersion")
    assert set(node_pools.DRIVER_VERSIONS.values()) <= set(allowed)


def test_every_sharing_strategy_is_a_container_api_value():
    allowed = discovery.enum("container.v1", "GPUSharingConfig", "gpuSharingStrategy")
    assert set(node_pools.SHARING_STRATEGIES.values()) <= set(allowed)


def test_every_release_channel_the_config_accepts_is_a_current_api_value():
    node = discovery.field("container.v1", "ReleaseChannel", "channel")
    current = {v for v, old in zip(node["enum"], node["enumDeprecated"], strict=True) if not old}
    assert set(config.ReleaseChannel.__args__) <= current


def test_gpu_taint_effect_is_a_container_api_value():
    assert node_pools.gpu_taint()["effect"] in discovery.enum("container.v1", "NodeTaint", "effect")


def test_every_security_posture_the_config_accepts_is_a_current_api_value():
    node = discovery.field("container.v1", "SecurityPostureConfig", "mode")
    current = {
        v
        for v, old in zip(node["enum"], node.get("enumDeprecated", [False] * len(node["enum"])), strict=True)
        if not old
    }
    assert {v.upper() for v in config.ClusterConfig.model_fields["security_posture"].annotation.__args__} <= current


def test_vulnerability_scanning_is_not_set_because_the_api_no_longer_supports_it():
    node = discovery.field("container.v1", "SecurityPostureConfig", "vulnerabilityMode")
    assert node["deprecated"] is True and "no longer supported" in node["description"]
    for label, get in CAPTURES:
        for res in get().of_type("gcp:container/cluster:Cluster"):
            assert "vulnerabilityMode" not in (res.inputs.get("securityPostureConfig") or {}), label


REPOSITORY = "gcp:artifactregistry/repository:Repository"


def _remote_repositories():
    for label, get in CAPTURES:
        for res in get().of_type(REPOSITORY):
            if res.inputs.get("mode") == registry.REMOTE:
                yield label, res


def test_remote_repository_bodies_conform_to_the_artifact_registry_schema():
    shape = api_fields.SHAPES[REPOSITORY]
    found = list(_remote_repositories())
    assert found
    for label, res in found:
        body = api_fields.translate(REPOSITORY, res.inputs)
        assert "remoteRepositoryConfig" in body, (label, res.name)
        assert discovery.errors(shape.doc, shape.schema, body) == [], (label, res.name)


def test_every_repository_mode_the_stack_sets_is_an_api_value():
    allowed = discovery.enum("artifactregistry.v1", "Repository", "mode")
    assert {registry.STANDARD, registry.REMOTE, *registry.STREAMING_MODES} <= set(allowed)


def test_every_docker_hub_preset_is_an_api_value():
    allowed = discovery.enum("artifactregistry.v1", "DockerRepository", "publicRepository")
    presets = {u.public_repository for u in config.UPSTREAMS.values() if u.public_repository}
    assert presets and presets <= set(allowed) - {"PUBLIC_REPOSITORY_UNSPECIFIED"}


def test_most_recent_versions_come_only_with_a_keep_action():
    # artifactregistry v1 CleanupPolicy.mostRecentVersions: "May only be specified with a Keep action."
    prop = discovery.document("artifactregistry.v1")["schemas"]["CleanupPolicy"]["properties"]["mostRecentVersions"]
    assert "only be specified with a Keep action" in prop["description"]
    for _, res in _remote_repositories():
        for policy in res.inputs["cleanupPolicies"]:
            if "mostRecentVersions" in policy:
                assert policy["action"] == "KEEP", res.name


def test_custom_upstreams_use_the_common_repository_not_the_deprecated_custom_one():
    # pulumi-gcp 10.2.0: dockerRepository.customRepository is "[Deprecated, please use commonRepository instead]".
    doc = inspect.getdoc(gcp.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepositoryArgs.__init__) or ""
    assert "Deprecated, please use commonRepository" in doc
    for _, res in _remote_repositories():
        assert "customRepository" not in (res.inputs["remoteRepositoryConfig"].get("dockerRepository") or {})


def test_the_proxy_only_subnets_purpose_and_role_are_compute_api_values():
    assert network.PROXY_ONLY_PURPOSE in discovery.enum("compute.v1", "Subnetwork", "purpose")
    assert network.PROXY_ONLY_ROLE in discovery.enum("compute.v1", "Subnetwork", "role")
    assert (
        "Regional Envoy-based"
        in dict(
            zip(
                discovery.field("compute.v1", "Subnetwork", "purpose")["enum"],
                discovery.field("compute.v1", "Subnetwork", "purpose")["enumDescriptions"],
                strict=True,
            )
        )[network.PROXY_ONLY_PURPOSE]
    )


def test_the_gateway_api_channel_is_a_current_container_api_value():
    node = discovery.field("container.v1", "GatewayAPIConfig", "channel")
    current = {v for v, old in zip(node["enum"], node["enumDeprecated"], strict=True) if not old}
    assert cluster_spec.GATEWAY_API_CHANNEL in current - {"CHANNEL_UNSPECIFIED", "CHANNEL_DISABLED"}
