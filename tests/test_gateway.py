"""The Inference Gateway: its config rules (one line each, naming the key and the fix), what a gateway
model adds to the platform and the cluster, and its pieces as the pinned chart renders them."""

from __future__ import annotations

import copy

import pytest
import yaml

from infra import config
from tests.conftest import LOAD_BALANCER_KINDS, raw_with, run_raw, stack_capture
from tests.reality import crds
from tooling.plan_text import kubernetes_manifest
from workloads import epp

NS = "gke-gpu-serving"
VLLM = {
    "name": "llm",
    "server": "vllm",
    "gpu": {"type": "nvidia-tesla-t4", "count": 1},
    "source": "hf://org/m",
}


def with_gateway(gateway: dict | None = None, environment: str = "dev", **changes) -> dict:
    m = {**VLLM, **({"gateway": gateway} if gateway is not None else {})}
    raw = raw_with(models=[m], environment=environment, **changes)
    if environment == "prod":
        raw["cluster"]["deletionProtection"] = True
    return raw


def lines(raw: dict) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    return info.value.lines


def only_line(raw: dict, path: str) -> str:
    found = [line for line in lines(raw) if line.startswith(f"{NS}:{path} ")]
    assert len(found) == 1, lines(raw)
    return found[0]


def manifests(capture) -> dict[str, dict]:
    return {kubernetes_manifest(r)["kind"]: kubernetes_manifest(r) for r in capture.kubernetes_objects()}


# Defaults -----------------------------------------------------------------------------------


def test_a_vllm_model_has_a_gateway_by_default_in_prod():
    cfg = config.parse(with_gateway(environment="prod"))
    assert [m.name for m in cfg.gateway_models] == ["llm"]


def test_a_vllm_model_has_no_gateway_by_default_outside_prod():
    assert config.parse(with_gateway(environment="staging")).gateway_models == ()


def test_a_gateway_can_be_turned_off_in_prod():
    assert config.parse(with_gateway({"enabled": False}, environment="prod")).gateway_models == ()


def test_models_of_other_servers_never_get_a_gateway():
    cfg = config.parse(raw_with(environment="prod", cluster={**raw_with()["cluster"], "deletionProtection": True}))
    assert cfg.gateway_models == ()


# Rules ----------------------------------------------------------------------------------------


def test_a_gateway_block_on_another_server_names_the_key():
    raw = raw_with()
    raw["models"][0]["gateway"] = {"enabled": True}
    assert "only vllm models take a gateway" in only_line(raw, "models[0].gateway")


def test_an_external_gateway_in_prod_needs_the_opt_in():
    line = only_line(with_gateway({"class": "external"}, environment="prod"), "models[0].gateway.class")
    assert "gateway.allowInProd: true" in line and '"external"' in line


def test_an_opted_in_external_gateway_in_prod_is_accepted():
    cfg = config.parse(with_gateway({"class": "external", "allowInProd": True}, environment="prod"))
    assert cfg.models[0].gateway.gateway_class == "external"


def test_a_gateway_signal_without_a_gateway_is_rejected():
    raw = with_gateway()
    raw["models"][0]["autoscaling"] = {"signals": [{"signal": "gateway-queue-size"}]}
    assert "set gateway.enabled: true" in only_line(raw, "models[0].autoscaling.signals[0].signal")


def test_the_proxy_only_subnet_must_not_overlap_the_nodes():
    raw = with_gateway({"enabled": True}, network={"nodesCidr": "10.129.0.0/24"})
    assert "overlaps nodesCidr 10.129.0.0/24" in only_line(raw, "network.proxyOnlyCidr")


def test_the_proxy_only_subnet_must_not_overlap_the_control_plane_range():
    raw = with_gateway({"enabled": True}, network={"proxyOnlyCidr": "172.16.0.0/23"})
    raw["cluster"]["privateNodes"] = True
    assert "cluster.masterIpv4Cidr" in only_line(raw, "network.proxyOnlyCidr")


def test_the_proxy_only_subnet_is_at_least_a_slash_26():
    raw = with_gateway({"enabled": True}, network={"proxyOnlyCidr": "10.129.0.0/27"})
    assert "at least a /26" in only_line(raw, "network.proxyOnlyCidr")


def test_an_existing_network_must_name_its_proxy_only_subnet():
    raw = with_gateway({"enabled": True}, network={"mode": "existing", "name": "vpc", "subnetwork": "nodes"})
    assert "REGIONAL_MANAGED_PROXY" in only_line(raw, "network.proxyOnlyCidr")


def _existing(gateway_api: bool, cidr: str | None) -> dict:
    raw = with_gateway({"enabled": True})
    raw.pop("gpuPools")
    raw["cluster"] = {
        "mode": "existing",
        "location": "us-central1-a",
        "name": "shared",
        "existingGatewayApi": gateway_api,
    }
    if cidr:
        raw["cluster"]["existingProxyOnlyCidr"] = cidr
    # vLLM's image comes through the stack's remote repository: the cluster's nodes need its grant.
    raw["registry"] = {"nodeServiceAccount": "shared-nodes@replace-with-your-project-id.iam.gserviceaccount.com"}
    return raw


def test_an_existing_cluster_needs_the_operators_confirmation():
    line = only_line(_existing(False, "10.129.0.0/23"), "cluster.existingGatewayApi")
    assert "--gateway-api=standard" in line and "1.34.0-gke.1626000" in line


def test_an_existing_cluster_must_name_its_proxy_only_range():
    assert "NetworkPolicies" in only_line(_existing(True, None), "cluster.existingProxyOnlyCidr")


def test_the_existing_cluster_keys_are_refused_on_a_cluster_the_stack_creates():
    raw = with_gateway({"enabled": True})
    raw["cluster"]["existingGatewayApi"] = True
    assert "only for mode: existing" in only_line(raw, "cluster.existingGatewayApi")


# What a gateway model adds to the platform ----------------------------------------------------


def test_the_cluster_gets_the_standard_gateway_api_only_with_a_gateway():
    on = run_raw(with_gateway({"enabled": True})).one("gcp:container/cluster:Cluster").inputs
    off = run_raw(with_gateway()).one("gcp:container/cluster:Cluster").inputs
    assert (on["gatewayApiConfig"], "gatewayApiConfig" in off) == ({"channel": "CHANNEL_STANDARD"}, False)


def test_autopilot_gets_the_gateway_api_too():
    cluster = stack_capture("staging").one("gcp:container/cluster:Cluster").inputs
    assert cluster["enableAutopilot"] and cluster["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}


def test_the_proxy_only_subnet_is_in_the_region_and_the_stacks_vpc():
    capture = stack_capture("prod")
    subnet = capture.one("gcp:compute/subnetwork:Subnetwork", "network-proxy-only").inputs
    nodes = capture.one("gcp:compute/subnetwork:Subnetwork", "network-nodes").inputs
    assert (subnet["purpose"], subnet["role"], subnet["region"], subnet["network"]) == (
        "REGIONAL_MANAGED_PROXY",
        "ACTIVE",
        "us-central1",
        nodes["network"],
    )


def test_an_existing_cluster_gets_the_gateway_and_no_subnet():
    capture = run_raw(_existing(True, "10.129.0.0/23"))
    assert capture.of_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert not capture.of_type("gcp:compute/subnetwork:Subnetwork")


def test_the_gateway_address_is_a_stack_output_per_model():
    assert stack_capture("prod").outputs["gateways"] == {"mistral-7b": "198.51.100.20"}


def test_the_gateway_waits_for_its_address():
    gw = manifests(stack_capture("prod"))["Gateway"]
    assert gw["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.addresses[0].value}"


def test_an_internal_gateway_uses_gke_l7_rilb_and_an_external_one_the_regional_external_class():
    internal = manifests(stack_capture("prod"))["Gateway"]["spec"]["gatewayClassName"]
    external = manifests(run_raw(with_gateway({"enabled": True, "class": "external"})))["Gateway"]
    assert (internal, external["spec"]["gatewayClassName"]) == ("gke-l7-rilb", "gke-l7-regional-external-managed")


def test_an_opted_in_external_prod_gateway_carries_the_label_and_passes_the_policy_pack():
    from tooling import policy_check

    capture = run_raw(with_gateway({"class": "external", "allowInProd": True}, environment="prod"))
    gw = manifests(capture)["Gateway"]
    assert gw["metadata"]["labels"]["gke-gpu-serving/public-load-balancer"] == "true"
    assert [f for f in policy_check.evaluate(capture) if f.policy == "k8s-prod-gateway-opt-in"] == []


def test_the_pool_selects_the_models_pods_on_vllms_port():
    m = manifests(stack_capture("prod"))
    deployments = [
        kubernetes_manifest(r)
        for r in stack_capture("prod").kubernetes_objects()
        if r.name == "model-mistral-7b-deployment"
    ]
    pod = deployments[0]["spec"]["template"]
    assert m["InferencePool"]["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert m["InferencePool"]["spec"]["targetPorts"] == [
        {"number": pod["spec"]["containers"][0]["ports"][0]["containerPort"]}
    ]


def test_the_health_check_probes_the_servers_health_endpoint():
    m = manifests(stack_capture("prod"))
    check = m["HealthCheckPolicy"]["spec"]["default"]["config"]["httpHealthCheck"]
    assert (check["requestPath"], check["port"]) == ("/health", 8000)


def test_no_inference_pool_crd_is_installed_by_the_stack():
    # GKE 1.34.0-gke.1626000 and later installs and manages it (README "Inference Gateway").
    crds_sent = [
        r for r in stack_capture("prod").kubernetes_objects() if r.inputs["kind"] == "CustomResourceDefinition"
    ]
    assert crds_sent == []


# The endpoint picker as the chart renders it -------------------------------------------------


def _epp_deployment(capture) -> dict:
    return next(kubernetes_manifest(r) for r in capture.kubernetes_objects() if r.name.endswith("-epp-deployment"))


def test_the_picker_mounts_its_token_explicitly():
    assert _epp_deployment(stack_capture("prod"))["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_the_picker_runs_hardened_with_a_read_only_root():
    ctx = _epp_deployment(stack_capture("prod"))["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert (ctx["readOnlyRootFilesystem"], ctx["allowPrivilegeEscalation"], ctx["capabilities"]) == (
        True,
        False,
        {"drop": ["ALL"]},
    )


def test_the_picker_serves_the_ports_the_pool_and_probes_use():
    pod = _epp_deployment(stack_capture("prod"))["spec"]["template"]["spec"]
    ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert ports == {"grpc": 9002, "grpc-health": 9003, "metrics": 9090}
    assert pod["containers"][0]["readinessProbe"]["grpc"] == {"port": 9003, "service": "inference-extension"}


def test_the_plugins_file_is_the_charts_default_profile():
    profile = yaml.safe_load(epp.plugins_config())["schedulingProfiles"][0]["plugins"]
    assert profile == [
        {"pluginRef": "queue-scorer", "weight": 2},
        {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
        {"pluginRef": "prefix-cache-scorer", "weight": 3},
    ]


def test_the_gmp_collector_namespace_follows_the_cluster_mode():
    def binding(stack):
        return next(
            kubernetes_manifest(r)
            for r in stack_capture(stack).kubernetes_objects()
            if r.name.endswith("metrics-secret-read-binding")
        )["subjects"][0]["namespace"]

    assert (binding("prod"), binding("staging")) == ("gmp-system", "gke-gmp-system")


# Reachability ----------------------------------------------------------------------------------


def _policy(capture, name: str) -> dict:
    return next(
        kubernetes_manifest(r)
        for r in capture.kubernetes_objects()
        if r.inputs["kind"] == "NetworkPolicy" and r.inputs["metadata"]["name"] == name
    )


def _cidr_ports(policy: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in policy["spec"]["ingress"]:
        for peer in rule["from"]:
            if "ipBlock" in peer:
                out.setdefault(peer["ipBlock"]["cidr"], set()).update(p["port"] for p in rule["ports"])
    return out


def test_the_proxies_and_health_checks_reach_the_model_and_the_picker_only_on_their_ports():
    capture = stack_capture("prod")
    model = _cidr_ports(_policy(capture, "allow-mistral-7b"))
    picker = _cidr_ports(_policy(capture, "allow-mistral-7b-epp"))
    expected = {"10.129.0.0/23", "35.191.0.0/16", "130.211.0.0/22"}
    assert (set(model), set(picker)) == (expected, expected)
    assert {p for ports in model.values() for p in ports} == {"http"}
    assert {p for ports in picker.values() for p in ports} == {"grpc"}


def test_models_without_a_gateway_admit_no_new_cidr():
    capture = stack_capture("prod")
    assert _cidr_ports(_policy(capture, "allow-resnet50")) == {}


# Validation against the CRDs fails where the API server would --------------------------------


def _objects(stack: str = "prod") -> dict[str, dict]:
    return {k: v for k, v in manifests(stack_capture(stack)).items() if k in LOAD_BALANCER_KINDS}


def test_the_pool_crd_rejects_duplicate_target_ports():
    pool = copy.deepcopy(_objects()["InferencePool"])
    pool["spec"]["targetPorts"] *= 2
    assert any("port number must be unique" in e for e in crds.errors(pool))


def test_the_pool_crd_requires_the_pickers_port():
    pool = copy.deepcopy(_objects()["InferencePool"])
    del pool["spec"]["endpointPickerRef"]["port"]
    assert any("port is required" in e for e in crds.errors(pool))


def test_the_health_check_crd_rejects_a_timeout_above_the_interval():
    policy = copy.deepcopy(_objects()["HealthCheckPolicy"])
    policy["spec"]["default"]["timeoutSec"] = 5
    assert any("timeOutSec cannot exceed checkIntervalSec" in e for e in crds.errors(policy))


def test_the_route_crd_rejects_a_relative_path_in_both_releases():
    route = copy.deepcopy(_objects()["HTTPRoute"])
    route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "v1"
    for directory in (crds.CRD_DIR, crds.LATEST_DIR):
        assert any("must be an absolute path" in e for e in crds.errors(route, directory))


def test_the_gateway_crd_rejects_two_listeners_of_one_name():
    gw = copy.deepcopy(_objects()["Gateway"])
    gw["spec"]["listeners"] *= 2
    assert any("Listener name must be unique" in e for e in crds.errors(gw))
