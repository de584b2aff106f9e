"""GPU node pools for Standard clusters: one pool per ``gpuPools`` entry.

Every pool is tainted ``nvidia.com/gpu=present:NoSchedule`` explicitly: GKE adds that taint
only when a GPU pool joins a cluster that already has a non-GPU pool, and without it CPU pods
land on (and keep awake) expensive GPU nodes. Autoscaling counts are totals across zones
(``total_*_node_count``) so ``maxNodes`` means the same thing for zonal and regional clusters,
and ``maxNodes x gpusPerNode`` is the pool's GPU ceiling.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from infra import catalog, naming
from infra.apis import ProjectApis
from infra.cluster import NODE_METADATA, NODE_OAUTH_SCOPES
from infra.config import ComponentArgs

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"

DRIVER_VERSIONS = {
    "gke-default": "DEFAULT",
    "gke-latest": "LATEST",
    # GKE installs nothing; infra.gpu_driver's DaemonSet does (seed 002's path).
    "daemonset": "INSTALLATION_DISABLED",
}
SHARING_STRATEGIES = {"time-sharing": "TIME_SHARING", "mps": "MPS"}


class GpuPoolArgs(ComponentArgs):
    """Plain inputs of :class:`GpuNodePool` (one ``gpuPools`` entry plus cluster facts)."""

    key: str
    gke_name: str
    project: str
    location: str
    accelerator: str
    gpus_per_node: int
    machine_type: str
    min_nodes: int
    max_nodes: int
    # Nodes the pool's models need at their minimum replicas (infra/capacity.py), >= min_nodes.
    initial_nodes: int = 0
    spot: bool = False
    driver: str = "gke-default"
    sharing_strategy: str | None = None
    max_clients_per_gpu: int | None = None
    image_type: str = "COS_CONTAINERD"
    disk_size_gb: int = 100
    disk_type: str = "pd-balanced"
    node_locations: tuple[str, ...] | None = None
    image_streaming: bool = True
    labels: dict[str, str] = Field(default_factory=dict)


def driver_version(driver: str) -> str:
    """``gpuPools[].driver`` -> GKE's ``gpu_driver_version``."""
    return DRIVER_VERSIONS[driver]


def gpu_taint() -> dict[str, str]:
    return {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}


def node_labels(args: GpuPoolArgs) -> dict[str, str]:
    """Kubernetes labels on the pool's nodes (GKE itself adds ``cloud.google.com/gke-accelerator``)."""
    return {
        f"{naming.PROJECT}/pool": args.key,
        f"{naming.PROJECT}/accelerator": naming.accelerator_short(args.accelerator),
        f"{naming.PROJECT}/gpu-driver": args.driver,
        f"{naming.PROJECT}/capacity": "spot" if args.spot else "on-demand",
    }


def node_locations(location: str, accelerator: str, explicit: tuple[str, ...] | None) -> list[str] | None:
    """Zones for the pool's nodes.

    A zonal cluster keeps its zone unless config names others. A regional cluster's pools
    default to every zone of the region that offers the accelerator: GKE would otherwise try
    all of the cluster's zones and fail in those without the GPU.
    """
    if explicit:
        return list(explicit)
    if catalog.is_zone(location):
        return None
    return list(catalog.ACCELERATORS[accelerator].zones_in(location))


def secure_boot(driver: str, image_type: str) -> bool:
    """Secure Boot on, except where it would block the driver.

    Unsigned kernel modules cannot load under Secure Boot; the DaemonSet installer on Ubuntu
    builds one, so that combination runs without Secure Boot (COS drivers are signed).
    """
    return not (driver == "daemonset" and image_type == "UBUNTU_CONTAINERD")


def initial_node_count(min_nodes: int, zones: int) -> int:
    """Per-zone node count at creation, so that the pool starts at no more than ``min_nodes`` in total.

    GKE's ``initialNodeCount`` is per zone ("In regional or multi-zonal clusters, this is the
    number of nodes per zone", google_container_node_pool), while ``minNodes`` is a total
    (``total_min_node_count``). Rounding up would start a 4-zone pool with ``minNodes: 1`` at 4
    GPU nodes: 4 GPUs of quota, and a stockout in any zone, on the first apply. Rounding down
    starts at most the minimum; the autoscaler adds the rest as soon as GPU pods are pending.
    """
    return min_nodes // max(zones, 1)


class GpuNodePool(pulumi.ComponentResource):
    """One autoscaled, tainted GPU node pool."""

    pool: gcp.container.NodePool

    def __init__(
        self,
        name: str,
        args: GpuPoolArgs,
        *,
        apis: ProjectApis,
        cluster_id: pulumi.Input[str],
        service_account_email: pulumi.Input[str],
        node_roles: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:gpu:GpuNodePool", name, None, opts)
        self.args = args
        sharing = None
        if args.sharing_strategy:
            sharing = gcp.container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy=SHARING_STRATEGIES[args.sharing_strategy],
                max_shared_clients_per_gpu=args.max_clients_per_gpu,
            )
        zones = node_locations(args.location, args.accelerator, args.node_locations)
        cos = args.image_type == "COS_CONTAINERD"
        self.pool = gcp.container.NodePool(
            name,
            name=args.gke_name,
            project=args.project,
            cluster=cluster_id,
            location=args.location,
            node_locations=zones,
            initial_node_count=initial_node_count(max(args.min_nodes, args.initial_nodes), len(zones) if zones else 1),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=args.min_nodes,
                total_max_node_count=args.max_nodes,
                # Spot capacity comes and goes by zone: take it wherever it is.
                location_policy="ANY" if args.spot else "BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            # Surge would need one more GPU of quota per upgrade; replace nodes in place and let
            # replicas + PodDisruptionBudgets carry the traffic.
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=0, max_unavailable=1
            ),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=args.machine_type,
                image_type=args.image_type,
                disk_size_gb=args.disk_size_gb,
                disk_type=args.disk_type,
                spot=args.spot,
                service_account=service_account_email,
                oauth_scopes=list(NODE_OAUTH_SCOPES),
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=secure_boot(args.driver, args.image_type), enable_integrity_monitoring=True
                ),
                # Image streaming needs Container-Optimized OS.
                gcfs_config=gcp.container.NodePoolNodeConfigGcfsConfigArgs(enabled=args.image_streaming and cos),
                guest_accelerators=[
                    gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                        type=args.accelerator,
                        count=args.gpus_per_node,
                        gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                            gpu_driver_version=driver_version(args.driver)
                        ),
                        gpu_sharing_config=sharing,
                    )
                ],
                taints=[gcp.container.NodePoolNodeConfigTaintArgs(**gpu_taint())],
                labels=node_labels(args),
                resource_labels=args.labels,
                metadata=NODE_METADATA,
            ),
            # initialNodeCount forces replacement and autoscaling owns the count after creation.
            # The nodes boot as the node identity: its roles first.
            opts=apis.opts(
                gcp.container.NodePool,
                pulumi.ResourceOptions(parent=self, depends_on=node_roles or [], ignore_changes=["initialNodeCount"]),
            ),
        )
        self.register_outputs({"name": self.pool.name})
