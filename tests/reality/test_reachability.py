"""Where the stack's own Kubernetes calls come from, and whether they reach the control plane.

deploy.yml and destroy.yml run ``pulumi up`` / ``destroy`` on GitHub-hosted runners, whose
addresses are in no authorized network. A control plane's IP endpoint behind
``masterAuthorizedNetworks`` refuses them; GKE's DNS endpoint is gated by IAM instead
(container.v1: ``IPEndpointsConfig`` carries ``authorizedNetworksConfig``, ``DNSEndpointConfig``
has no network list)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import STACKS, stack_capture
from tests.reality import discovery
from tooling import offline

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
GITHUB_HOSTED = ("ubuntu-", "windows-", "macos-")


def _pulumi_jobs(workflow: str) -> list[dict]:
    doc = yaml.safe_load((WORKFLOWS / workflow).read_text())
    return [
        job
        for job in doc["jobs"].values()
        if any("pulumi/actions@" in str(step.get("uses", "")) for step in job.get("steps", []))
    ]


def test_authorized_networks_bind_only_the_ip_endpoint():
    assert (
        "authorizedNetworksConfig" in discovery.document("container.v1")["schemas"]["IPEndpointsConfig"]["properties"]
    )
    dns = discovery.document("container.v1")["schemas"]["DNSEndpointConfig"]["properties"]
    assert not [name for name in dns if "authorized" in name.lower() or "cidr" in name.lower()]


@pytest.mark.parametrize("workflow", ["deploy.yml", "destroy.yml"])
def test_the_workflows_that_reach_the_cluster_run_on_github_hosted_runners(workflow):
    jobs = _pulumi_jobs(workflow)
    assert jobs
    assert all(str(job["runs-on"]).startswith(GITHUB_HOSTED) for job in jobs)


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_kubeconfig_reaches_its_control_plane_from_a_hosted_runner(stack):
    capture = stack_capture(stack)
    (entry,) = yaml.safe_load(capture.outputs["kubeconfig"])["clusters"]
    cluster = capture.one("gcp:container/cluster:Cluster").inputs
    via_dns = entry["cluster"]["server"] == f"https://{offline.FAKE_DNS_ENDPOINT}"
    if via_dns:
        assert cluster["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True
    else:
        assert not cluster.get("masterAuthorizedNetworksConfig"), "IP endpoint behind authorized networks"
