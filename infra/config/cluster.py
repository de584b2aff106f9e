"""``gke-gpu-serving:network`` and ``gke-gpu-serving:cluster``: the VPC, the GKE cluster in one of its
three modes, its control-plane endpoints and hardening, and the rules that span them."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra import catalog, naming
from infra.config.base import ClusterMode, Problem, ReleaseChannel, _dns_name, _Model
from infra.config.values import _cidr

if TYPE_CHECKING:
    from infra.config.stack import StackConfig


class FlowLogs(_Model):
    """VPC flow logs on the nodes' subnet (compute.v1 SubnetworkLogConfig)."""

    enabled: bool | None = Field(None, description="default: on in prod")
    sampling: float = Field(0.5, ge=0, le=1, description="fraction of flows logged (flowSampling)")
    aggregation_interval: Literal[
        "INTERVAL_5_SEC", "INTERVAL_30_SEC", "INTERVAL_1_MIN", "INTERVAL_5_MIN", "INTERVAL_10_MIN", "INTERVAL_15_MIN"
    ] = "INTERVAL_5_SEC"
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"] = "INCLUDE_ALL_METADATA"


class NetworkConfig(_Model):
    """The VPC the cluster lives in: created by the stack, or an existing one named here."""

    mode: Literal["create", "existing"] = "create"
    name: str | None = Field(None, description="existing mode: network name or self link")
    subnetwork: str | None = Field(None, description="existing mode: subnetwork name or self link")
    nodes_cidr: str = "10.10.0.0/20"
    pods_cidr: str = "10.16.0.0/14"
    services_cidr: str = "10.20.0.0/20"
    pods_range_name: str = "pods"
    services_range_name: str = "services"
    flow_logs: FlowLogs = FlowLogs()
    proxy_only_cidr: str | None = Field(
        None,
        description="range of the proxy-only subnet (REGIONAL_MANAGED_PROXY) the Inference Gateway's load "
        "balancers need: create mode, default 10.129.0.0/23, created only when a model has a gateway; "
        "existing mode: the range of the network's own proxy-only subnet in the region (required with a gateway)",
    )

    _check_cidrs = field_validator("nodes_cidr", "pods_cidr", "services_cidr")(_cidr)
    _check_proxy_cidr = field_validator("proxy_only_cidr")(lambda v: v if v is None else _cidr(v))

    @model_validator(mode="after")
    def _existing_needs_names(self) -> NetworkConfig:
        if self.mode == "existing" and not (self.name and self.subnetwork):
            raise PydanticCustomError(
                "config_rule",
                "network.mode existing needs network.name and network.subnetwork (and the secondary "
                "range names pods/services of that subnetwork); set them or use mode: create",
            )
        if self.mode == "create":
            nets = [ipaddress.ip_network(c) for c in (self.nodes_cidr, self.pods_cidr, self.services_cidr)]
            for i, a in enumerate(nets):
                for b in nets[i + 1 :]:
                    if a.overlaps(b):
                        raise PydanticCustomError(
                            "config_rule",
                            "network ranges {a} and {b} overlap; give nodesCidr, podsCidr and "
                            "servicesCidr disjoint ranges",
                            {"a": str(a), "b": str(b)},
                        )
        return self


class AuthorizedNetwork(_Model):
    cidr: str
    display_name: str

    _check_cidr = field_validator("cidr")(_cidr)


class SystemPool(_Model):
    """The small non-GPU pool every Standard cluster keeps for system and CPU pods."""

    machine_type: str = "e2-standard-4"
    min_nodes: int = Field(1, ge=0)
    max_nodes: int = Field(3, ge=1)
    disk_size_gb: int = Field(100, ge=20)


class ClusterConfig(_Model):
    mode: ClusterMode
    location: str
    name: str | None = None
    release_channel: ReleaseChannel = "REGULAR"
    private_nodes: bool = False
    master_ipv4_cidr: str = "172.16.0.0/28"
    master_authorized_networks: tuple[AuthorizedNetwork, ...] = ()
    deletion_protection: bool | None = None
    system_pool: SystemPool = SystemPool()
    image_streaming: bool = True
    # For mode: existing, the driver DaemonSet the stack should install (its pools are not ours).
    driver_daemon_set: Literal["none", "cos", "ubuntu"] = "none"
    # For mode: existing, whether that cluster is Autopilot (decides how GPU pods schedule).
    existing_autopilot: bool = False
    existing_gateway_api: bool = Field(
        False,
        description="mode existing: the operator confirms the cluster has the Gateway API (standard channel), "
        "GKE 1.34.0-gke.1626000 or later (InferencePool CRD) and a proxy-only subnet; needed for a model's gateway",
    )
    existing_proxy_only_cidr: str | None = Field(
        None, description="mode existing: range of the proxy-only subnet in the cluster's region (NetworkPolicies)"
    )
    dns_endpoint: bool = Field(
        True,
        description="GKE's DNS-based control-plane endpoint, open to external traffic: IAM-gated "
        "(container.clusters.connect), not subject to masterAuthorizedNetworks",
    )
    kubeconfig_endpoint: Literal["dns", "ip"] | None = Field(
        None,
        description="the endpoint the stack's kubeconfig and Kubernetes provider use; default dns "
        "(ip for mode: existing, whose endpoints the stack does not set)",
    )
    intranode_visibility: bool | None = Field(
        None, description="Standard only: same-node pod traffic through the VPC (flow logs see it); default on in prod"
    )
    binary_authorization: bool | None = Field(
        None,
        description="Binary Authorization with the project's singleton policy (PROJECT_SINGLETON_POLICY_ENFORCE); "
        "default on in prod",
    )
    # ENTERPRISE is a deprecated value of container.v1 SecurityPostureConfig.mode; not offered.
    security_posture: Literal["disabled", "basic"] = Field(
        "basic", description="GKE security posture: workload configuration audit (basic is the free tier)"
    )
    rbac_groups: str | None = Field(
        None, description="Google Groups for RBAC: the gke-security-groups@<domain> group (authenticatorGroupsConfig)"
    )
    deploy_networks: tuple[str, ...] = Field(
        (),
        description="CIDRs pulumi up and destroy run from (self-hosted runners, a VPN) when the kubeconfig "
        "uses the IP endpoint behind masterAuthorizedNetworks",
    )

    _check_existing_proxy = field_validator("existing_proxy_only_cidr")(lambda v: v if v is None else _cidr(v))
    _check_deploy_networks = field_validator("deploy_networks")(lambda values: tuple(_cidr(v) for v in values))

    @field_validator("rbac_groups")
    @classmethod
    def _rbac_group(cls, value: str | None) -> str | None:
        # GKE: the group of groups must be named gke-security-groups@<your domain> (Google Groups for RBAC).
        if value is not None and not re.fullmatch(r"gke-security-groups@[a-z0-9.-]+\.[a-z]{2,}", value):
            raise ValueError(f"{value!r} is not a gke-security-groups@<domain> group; GKE accepts only that name")
        return value

    @property
    def kubeconfig_via(self) -> str:
        """``dns`` or ``ip``: which control-plane endpoint the stack's own Kubernetes calls use."""
        if self.kubeconfig_endpoint is not None:
            return self.kubeconfig_endpoint
        return "ip" if self.mode == "existing" or not self.dns_endpoint else "dns"

    _check_master_cidr = field_validator("master_ipv4_cidr")(_cidr)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not (catalog.is_zone(value) or catalog.is_region(value)):
            raise ValueError(f"{value!r} is neither a zone (us-central1-a) nor a region (us-central1)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _dns_name(value, naming.CLUSTER_NAME_MAX, "cluster name")

    @field_validator("master_ipv4_cidr")
    @classmethod
    def _master_is_28(cls, value: str) -> str:
        if ipaddress.ip_network(value).prefixlen != 28:
            raise ValueError(f"{value!r} must be a /28 (GKE's control-plane range size), e.g. 172.16.0.0/28")
        return value


def _control_plane_checks(cfg: StackConfig) -> list[Problem]:
    """The stack's own Kubernetes calls (pulumi up, and destroy of LoadBalancer Services) must reach
    the control plane from where they run: deploy.yml runs on GitHub-hosted runners, whose
    addresses no authorized network lists. GKE's DNS-based endpoint is gated by IAM, not by
    authorized networks (IPEndpointsConfig holds authorizedNetworksConfig; DNSEndpointConfig has
    none: container.v1 discovery document)."""
    cl = cfg.cluster
    problems: list[Problem] = []
    if cl.kubeconfig_endpoint == "dns" and not cl.dns_endpoint and cl.mode != "existing":
        problems.append(
            Problem(
                ("cluster", "kubeconfigEndpoint"),
                "dns",
                "needs the DNS endpoint, which cluster.dnsEndpoint: false turns off; set dnsEndpoint true or use ip",
            )
        )
    if cl.kubeconfig_via != "ip" or not cl.master_authorized_networks:
        return problems
    nets = [ipaddress.ip_network(n.cidr) for n in cl.master_authorized_networks]
    if not cl.deploy_networks:
        problems.append(
            Problem(
                ("cluster", "kubeconfigEndpoint"),
                "ip",
                "the IP endpoint admits only masterAuthorizedNetworks, and the deploy workflow's GitHub-hosted "
                "runners are in none of them, so every Kubernetes object would time out; use "
                "kubeconfigEndpoint: dns (IAM-gated), or list the networks pulumi runs from in cluster.deployNetworks",
            )
        )
    for i, cidr in enumerate(cl.deploy_networks):
        net = ipaddress.ip_network(cidr)
        if not any(net.version == a.version and net.subnet_of(a) for a in nets):
            problems.append(
                Problem(
                    ("cluster", "deployNetworks", i),
                    cidr,
                    "is not inside any of masterAuthorizedNetworks, so pulumi cannot reach the IP endpoint from "
                    "it; add it there or use kubeconfigEndpoint: dns",
                )
            )
    return problems


def cluster_checks(cfg: StackConfig) -> list[Problem]:
    """The rules of the cluster and network keys that span keys: location in the region, deletion
    protection stated, what each mode allows, the driver DaemonSet, the control-plane endpoint."""
    problems: list[Problem] = []
    add = problems.append
    cl = cfg.cluster
    mode = cl.mode

    if catalog.region_of(cl.location) != cfg.region:
        add(
            Problem(
                ("cluster", "location"),
                cl.location,
                f"is not in gcp:region {cfg.region}; use {cfg.region} or one of its zones",
            )
        )

    if mode in ("standard", "autopilot") and cl.deletion_protection is None:
        add(
            Problem(
                ("cluster", "deletionProtection"),
                None,
                "must be set explicitly per environment (the provider defaults to true, which blocks "
                "pulumi destroy); set true for prod, false for dev",
            )
        )
    if mode == "existing":
        if not cl.name:
            add(
                Problem(
                    ("cluster", "name"), None, "is required for mode: existing; set it to the existing cluster's name"
                )
            )
        if cfg.gpu_pools:
            add(
                Problem(
                    ("gpuPools",),
                    [p.name for p in cfg.gpu_pools],
                    "an existing cluster's node pools are managed where the cluster is; remove "
                    "gpuPools or use cluster.mode: standard",
                )
            )
        if cfg.network is not None:
            add(
                Problem(
                    ("network",),
                    cfg.network.mode,
                    "an existing cluster brings its own network; remove gke-gpu-serving:network",
                )
            )
    if mode == "autopilot":
        if cfg.gpu_pools:
            add(
                Problem(
                    ("gpuPools",),
                    [p.name for p in cfg.gpu_pools],
                    "Autopilot provisions GPU nodes itself and has no node pools; remove gpuPools "
                    "or use cluster.mode: standard",
                )
            )
        if catalog.is_zone(cl.location):
            add(
                Problem(
                    ("cluster", "location"),
                    cl.location,
                    f"Autopilot clusters are regional; use the region {cfg.region}",
                )
            )
    if mode == "autopilot" and cl.intranode_visibility:
        add(
            Problem(
                ("cluster", "intranodeVisibility"),
                True,
                "Autopilot manages intranode visibility itself and the provider rejects the field with "
                "enable_autopilot; remove it",
            )
        )
    if mode == "existing":
        for key in ("intranode_visibility", "binary_authorization", "rbac_groups"):
            if getattr(cl, key) is not None:
                add(
                    Problem(
                        ("cluster", to_camel(key)),
                        getattr(cl, key),
                        "is a setting of the cluster, which the stack does not manage in mode: existing; remove it",
                    )
                )
    if cfg.network is not None and cfg.network.mode == "existing" and cfg.network.flow_logs.enabled:
        add(
            Problem(
                ("network", "flowLogs", "enabled"),
                True,
                "flow logs are a setting of the subnetwork, which an existing network's owner manages; remove it",
            )
        )
    if cfg.autopilot and cl.driver_daemon_set != "none":
        add(
            Problem(
                ("cluster", "driverDaemonSet"),
                cl.driver_daemon_set,
                "Autopilot installs NVIDIA drivers itself and rejects the driver DaemonSet; set it to none",
            )
        )
    if mode == "standard" and cl.driver_daemon_set != "none":
        add(
            Problem(
                ("cluster", "driverDaemonSet"),
                cl.driver_daemon_set,
                "is only for mode: existing; for pools the stack creates set gpuPools[].driver: daemonset",
            )
        )
    if mode == "standard" and cl.system_pool.min_nodes > cl.system_pool.max_nodes:
        add(
            Problem(
                ("cluster", "systemPool", "minNodes"),
                cl.system_pool.min_nodes,
                f"is greater than systemPool.maxNodes ({cl.system_pool.max_nodes}); lower minNodes or raise maxNodes",
            )
        )

    problems.extend(_control_plane_checks(cfg))
    return problems
