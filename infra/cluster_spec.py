"""What a created cluster is asked for: :class:`ClusterArgs` and the ``gcp.container.Cluster``
arguments Standard and Autopilot share (networking, Workload Identity, monitoring, add-ons,
security posture, Binary Authorization, Gateway API, control-plane access). Pure: nothing here
registers a resource; :mod:`infra.cluster` creates the cluster from it.
"""

from __future__ import annotations

from typing import Literal

import pulumi_gcp as gcp
from pydantic import Field

from infra.config import ComponentArgs


class ClusterArgs(ComponentArgs):
    """Plain inputs of :class:`~infra.cluster.GkeCluster`."""

    mode: str
    name: str
    project: str
    location: str
    environment: str
    prefix: str
    release_channel: str = "REGULAR"
    private_nodes: bool = False
    master_ipv4_cidr: str = "172.16.0.0/28"
    master_authorized_networks: tuple[tuple[str, str], ...] = ()
    deletion_protection: bool = True
    image_streaming: bool = True
    system_machine_type: str = "e2-standard-4"
    system_min_nodes: int = 1
    system_max_nodes: int = 3
    system_disk_size_gb: int = 100
    pods_range_name: str = "pods"
    services_range_name: str = "services"
    dns_endpoint: bool = True
    kubeconfig_via: Literal["dns", "ip"] = "dns"
    intranode_visibility: bool = False
    binary_authorization: bool = False
    security_posture: Literal["disabled", "basic"] = "basic"
    rbac_groups: str | None = None
    # Standard with compute classes: node auto-provisioning and its cluster-wide maxima
    # ((resourceType, maximum), memory in GB); empty leaves it off.
    autoprovisioning_limits: tuple[tuple[str, int], ...] = ()
    # The GKE Gateway controller with the standard-channel Gateway API CRDs (Inference Gateway).
    gateway_api: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


def workload_pool(project: str) -> str:
    """The Workload Identity pool of a project's GKE clusters."""
    return f"{project}.svc.id.goog"


# Cloud Monitoring components: system metrics plus NVIDIA DCGM GPU metrics. DCGM (GKE >=
# 1.30.1, Standard and Autopilot) exports DCGM_FI_DEV_* metrics from GPU nodes to Managed
# Prometheus; the GPU autoscaling signals rely on it. It reads GKE-managed drivers, so pools
# that install drivers with the DaemonSet are not expected to report DCGM metrics.
# HPA, POD and DEPLOYMENT are GKE's kube-state-metrics packages: the dashboard's replica tiles and
# the "HPA at max" / "GPU pods unschedulable" alerts (infra/monitoring.py) query them.
MONITORING_COMPONENTS = ("SYSTEM_COMPONENTS", "DCGM", "HPA", "POD", "DEPLOYMENT")
# container.v1 GatewayAPIConfig.channel: "Gateway API support is enabled, standard CRDs are installed"
# (CHANNEL_EXPERIMENTAL is deprecated there: "use CHANNEL_STANDARD instead").
GATEWAY_API_CHANNEL = "CHANNEL_STANDARD"


def common_arguments(args: ClusterArgs, network, subnetwork) -> dict:
    """Cluster arguments shared by Standard and Autopilot."""
    common: dict = dict(
        name=args.name,
        project=args.project,
        location=args.location,
        network=network,
        subnetwork=subnetwork,
        # The provider defaults this to true; an explicit per-environment value keeps
        # `pulumi destroy` of dev possible and prod protected.
        deletion_protection=args.deletion_protection,
        release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel),
        networking_mode="VPC_NATIVE",
        ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
            cluster_secondary_range_name=args.pods_range_name,
            services_secondary_range_name=args.services_range_name,
        ),
        workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
            workload_pool=workload_pool(args.project)
        ),
        monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
            enable_components=list(MONITORING_COMPONENTS),
            managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
        ),
        addons_config=gcp.container.ClusterAddonsConfigArgs(
            gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
            horizontal_pod_autoscaling=gcp.container.ClusterAddonsConfigHorizontalPodAutoscalingArgs(disabled=False),
            http_load_balancing=gcp.container.ClusterAddonsConfigHttpLoadBalancingArgs(disabled=False),
        ),
        cost_management_config=gcp.container.ClusterCostManagementConfigArgs(enabled=True),
        resource_labels=args.labels,
    )
    # Workload configuration audit. Workload vulnerability scanning (vulnerabilityMode) is not
    # set: it is deprecated in container.v1 ("Vulnerability scanning is no longer supported")
    # and GKE removed it (standard tier 2025-07-31, Advanced Vulnerability Insights 2026-06-16).
    common["security_posture_config"] = gcp.container.ClusterSecurityPostureConfigArgs(
        mode=args.security_posture.upper()
    )
    if args.binary_authorization:
        # The project's singleton Binary Authorization policy decides which images may run
        # (BinaryAuthorization.evaluationMode; `enabled` is deprecated in container.v1).
        common["binary_authorization"] = gcp.container.ClusterBinaryAuthorizationArgs(
            evaluation_mode="PROJECT_SINGLETON_POLICY_ENFORCE"
        )
    if args.rbac_groups:
        # Google Groups for RBAC: RoleBindings may then name the groups inside this group of groups.
        common["authenticator_groups_config"] = gcp.container.ClusterAuthenticatorGroupsConfigArgs(
            security_group=args.rbac_groups
        )
    if args.gateway_api:
        # The GKE Gateway controller and the Gateway API CRDs of the standard channel, Standard and
        # Autopilot alike (container.v1 NetworkConfig.gatewayApiConfig; the provider sends
        # gateway_api_config there: resource_container_cluster.go expandGatewayApiConfig).
        common["gateway_api_config"] = gcp.container.ClusterGatewayApiConfigArgs(channel=GATEWAY_API_CHANNEL)
    if args.dns_endpoint:
        # IAM-gated and reachable from anywhere, authorized networks or not (GKE network isolation).
        common["control_plane_endpoints_config"] = gcp.container.ClusterControlPlaneEndpointsConfigArgs(
            dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                allow_external_traffic=True
            )
        )
    if args.private_nodes:
        common["private_cluster_config"] = gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            # The control plane keeps its public endpoint, limited by authorized networks.
            enable_private_endpoint=False,
            master_ipv4_cidr_block=args.master_ipv4_cidr if args.mode == "standard" else None,
        )
    if args.master_authorized_networks:
        common["master_authorized_networks_config"] = gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[
                gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=label)
                for cidr, label in args.master_authorized_networks
            ]
        )
    return common
