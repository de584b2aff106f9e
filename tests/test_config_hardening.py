"""Configuration rules on reaching and hardening the cluster: the control-plane endpoint the deploy
workflow must reach (kubeconfig endpoint, authorized and deploy networks), RBAC groups, intranode
visibility, VPC flow logs and the security posture; each bad value is one line naming the key and
the fix."""

from __future__ import annotations

from infra import config
from tests.conftest import base_raw, raw_with, run_raw
from tests.test_config import NS, only_line_for

# Control-plane endpoint (the deploy workflow must reach what the kubeconfig names) -------------

VPN = [{"cidr": "10.0.0.0/8", "displayName": "vpn"}]


def _cluster(**changes) -> dict:
    return raw_with(cluster={**base_raw()["cluster"], "masterAuthorizedNetworks": VPN, **changes})


def test_ip_kubeconfig_behind_authorized_networks_without_deploy_networks_is_rejected():
    line = only_line_for(_cluster(kubeconfigEndpoint="ip"), f"{NS}:cluster.kubeconfigEndpoint")
    assert '"ip"' in line and "GitHub-hosted runners" in line and "kubeconfigEndpoint: dns" in line


def test_deploy_network_outside_the_authorized_networks_is_rejected():
    raw = _cluster(kubeconfigEndpoint="ip", deployNetworks=["192.168.0.0/24"])
    line = only_line_for(raw, f"{NS}:cluster.deployNetworks[0]")
    assert '"192.168.0.0/24"' in line and "masterAuthorizedNetworks" in line


def test_ip_kubeconfig_from_an_authorized_deploy_network_is_accepted():
    config.parse(_cluster(kubeconfigEndpoint="ip", deployNetworks=["10.8.0.0/16"]))


def test_dns_kubeconfig_without_the_dns_endpoint_is_rejected():
    raw = raw_with(cluster={**base_raw()["cluster"], "dnsEndpoint": False, "kubeconfigEndpoint": "dns"})
    assert "dnsEndpoint: false" in only_line_for(raw, f"{NS}:cluster.kubeconfigEndpoint")


def test_the_kubeconfig_uses_the_dns_endpoint_unless_told_otherwise():
    assert config.parse(_cluster()).cluster.kubeconfig_via == "dns"
    assert (
        config.parse(raw_with(cluster={**base_raw()["cluster"], "dnsEndpoint": False})).cluster.kubeconfig_via == "ip"
    )


def test_a_malformed_deploy_network_names_its_key():
    raw = _cluster(kubeconfigEndpoint="ip", deployNetworks=["10.0.0.1/8"])
    assert "is not a CIDR range" in only_line_for(raw, f"{NS}:cluster.deployNetworks")


# Hardening options --------------------------------------------------------------------------------


def test_rbac_groups_must_be_the_gke_security_groups_group():
    raw = raw_with(cluster={**base_raw()["cluster"], "rbacGroups": "admins@example.com"})
    assert "gke-security-groups@<domain>" in only_line_for(raw, f"{NS}:cluster.rbacGroups")


def test_rbac_groups_reach_the_cluster():
    raw = raw_with(cluster={**base_raw()["cluster"], "rbacGroups": "gke-security-groups@example.com"})
    c = run_raw(raw).one("gcp:container/cluster:Cluster").inputs
    assert c["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@example.com"}


def test_intranode_visibility_on_autopilot_is_rejected():
    raw = raw_with(
        cluster={
            "mode": "autopilot",
            "location": "us-central1",
            "deletionProtection": False,
            "intranodeVisibility": True,
        },
        gpuPools=[],
        models=[],
    )
    assert "enable_autopilot" in only_line_for(raw, f"{NS}:cluster.intranodeVisibility")


def test_flow_logs_on_an_existing_network_are_rejected():
    raw = raw_with(network={"mode": "existing", "name": "n", "subnetwork": "s", "flowLogs": {"enabled": True}})
    assert "existing network" in only_line_for(raw, f"{NS}:network.flowLogs.enabled")


def test_flow_log_sampling_is_a_fraction():
    raw = raw_with(network={"flowLogs": {"sampling": 1.5}})
    assert only_line_for(raw, f"{NS}:network.flowLogs.sampling")


def test_enterprise_security_posture_is_not_offered():
    raw = raw_with(cluster={**base_raw()["cluster"], "securityPosture": "enterprise"})
    assert only_line_for(raw, f"{NS}:cluster.securityPosture")
