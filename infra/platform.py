"""Composes the platform in dependency order: APIs -> network -> cluster -> pools -> driver.

Each step is a component from its own module; this module only decides which steps a config
needs and hands each one plain args built from the validated :class:`~infra.config.StackConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from infra import naming
from infra.apis import ProjectApis
from infra.cluster import ClusterArgs, GkeCluster
from infra.config import StackConfig
from infra.gpu_driver import NvidiaDriverInstaller, variant_for_image_type
from infra.network import Network, NetworkArgs
from infra.node_pools import GpuNodePool, GpuPoolArgs


def driver_variants(cfg: StackConfig) -> tuple[str, ...]:
    """The driver-installer variants the stack needs: one per OS of ``driver: daemonset`` pools."""
    if cfg.autopilot:
        return ()
    if cfg.cluster.mode == "existing":
        return () if cfg.cluster.driver_daemon_set == "none" else (cfg.cluster.driver_daemon_set,)
    found = {variant_for_image_type(p.image_type) for p in cfg.gpu_pools if p.driver == "daemonset"}
    return tuple(sorted(found))


def cluster_args(cfg: StackConfig) -> ClusterArgs:
    cl = cfg.cluster
    net = cfg.effective_network
    return ClusterArgs(
        mode=cl.mode,
        name=cfg.cluster_name,
        project=cfg.project,
        location=cl.location,
        environment=cfg.environment,
        prefix=cfg.prefix,
        release_channel=cl.release_channel,
        private_nodes=cl.private_nodes,
        master_ipv4_cidr=cl.master_ipv4_cidr,
        master_authorized_networks=tuple((n.cidr, n.display_name) for n in cl.master_authorized_networks),
        deletion_protection=bool(cl.deletion_protection),
        image_streaming=cl.image_streaming,
        system_machine_type=cl.system_pool.machine_type,
        system_min_nodes=cl.system_pool.min_nodes,
        system_max_nodes=cl.system_pool.max_nodes,
        system_disk_size_gb=cl.system_pool.disk_size_gb,
        pods_range_name=net.pods_range_name,
        services_range_name=net.services_range_name,
        labels=naming.gcp_labels(cfg.environment, "cluster", cfg.labels),
    )


def pool_args(cfg: StackConfig) -> list[GpuPoolArgs]:
    return [
        GpuPoolArgs(
            key=p.name,
            gke_name=p.gke_name,
            project=cfg.project,
            location=cfg.cluster.location,
            accelerator=p.accelerator,
            gpus_per_node=p.gpus_per_node,
            machine_type=p.machine_type,
            min_nodes=p.min_nodes,
            max_nodes=p.max_nodes,
            spot=p.spot,
            driver=p.driver,
            sharing_strategy=p.sharing.strategy if p.sharing else None,
            max_clients_per_gpu=p.sharing.max_clients_per_gpu if p.sharing else None,
            image_type=p.image_type,
            disk_size_gb=p.disk_size_gb,
            disk_type=p.disk_type,
            node_locations=p.node_locations,
            image_streaming=cfg.cluster.image_streaming,
            labels=naming.gcp_labels(cfg.environment, f"gpu-pool-{p.name}", cfg.labels),
        )
        for p in cfg.gpu_pools
    ]


@dataclass
class Platform:
    """What the stack built; ``exports()`` is what ``__main__`` publishes."""

    cfg: StackConfig
    cluster: GkeCluster
    network: Network | None = None
    pools: list[GpuNodePool] = field(default_factory=list)
    driver: NvidiaDriverInstaller | None = None

    def exports(self) -> dict[str, object]:
        out: dict[str, object] = {
            "environment": self.cfg.environment,
            "version": naming.__version__,
            "clusterMode": self.cfg.cluster.mode,
            "clusterName": self.cluster.name,
            "clusterLocation": self.cfg.cluster.location,
            "kubeconfig": self.cluster.kubeconfig,
            "gpuPools": [p.pool.name for p in self.pools],
            "getCredentials": pulumi.Output.concat(
                "gcloud container clusters get-credentials ",
                self.cluster.name,
                f" --location {self.cfg.cluster.location} --project {self.cfg.project}",
            ),
        }
        if self.cluster.node_service_account is not None:
            out["nodeServiceAccount"] = self.cluster.node_service_account.email
        return out


def build(cfg: StackConfig) -> Platform:
    """Create every resource the config asks for, in dependency order."""
    creates_cluster = cfg.cluster.mode != "existing"
    apis = ProjectApis("apis", cfg.project) if creates_cluster else None
    after_apis = pulumi.ResourceOptions(depends_on=apis.services if apis else [])

    network = None
    if creates_cluster:
        net = cfg.effective_network
        network = Network(
            "network",
            NetworkArgs(
                prefix=cfg.prefix,
                project=cfg.project,
                region=cfg.region,
                mode=net.mode,
                existing_network=net.name,
                existing_subnetwork=net.subnetwork,
                nodes_cidr=net.nodes_cidr,
                pods_cidr=net.pods_cidr,
                services_cidr=net.services_cidr,
                pods_range_name=net.pods_range_name,
                services_range_name=net.services_range_name,
                nat=cfg.cluster.private_nodes,
            ),
            opts=after_apis,
        )
    cluster = GkeCluster(
        "cluster",
        cluster_args(cfg),
        network=network.network if network else None,
        subnetwork=network.subnetwork if network else None,
        opts=after_apis,
    )
    platform = Platform(cfg=cfg, cluster=cluster, network=network)

    if cfg.cluster.mode == "standard":
        for args in pool_args(cfg):
            platform.pools.append(
                GpuNodePool(
                    f"gpu-{args.key}",
                    args,
                    cluster_id=cluster.resource.id,
                    service_account_email=cluster.node_service_account.email,
                )
            )
    variants = driver_variants(cfg)
    if variants:
        platform.driver = NvidiaDriverInstaller(
            "nvidia-driver",
            variants,
            cfg.environment,
            provider=cluster.provider,
            deleted_with=cluster.resource,
        )
    return platform
