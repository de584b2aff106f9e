"""Composes the platform: network -> cluster -> pools -> driver -> buckets and registry ->
Workload Identities -> metrics adapter -> dashboard and alerts. Each Google resource depends on
the API it calls (:mod:`infra.apis`), each grant to the Workload Identity pool on the cluster.

Each step is a component from its own module; this module only wires them, in order, with the
args :mod:`infra.platform_args` derives from the validated :class:`~infra.config.StackConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra import naming
from infra.apis import ProjectApis
from infra.cluster import GkeCluster
from infra.config import ModelGpu, StackConfig
from infra.gpu_driver import NvidiaDriverInstaller
from infra.identity import WorkloadIdentity
from infra.metrics import CustomMetricsAdapter
from infra.monitoring import Monitoring
from infra.network import Network
from infra.node_pools import GpuNodePool
from infra.platform_args import (
    adapter_args,
    bucket_args,
    cluster_args,
    control_plane_access,
    driver_variants,
    identity_args,
    monitoring_args,
    network_args,
    pool_args,
    registry_args,
    registry_reader,
)
from infra.registry import ImageRegistry
from infra.storage import ModelBucket


@dataclass
class Platform:
    """What the stack built; ``exports()`` is what ``__main__`` publishes."""

    cfg: StackConfig
    cluster: GkeCluster
    network: Network | None = None
    pools: list[GpuNodePool] = field(default_factory=list)
    driver: NvidiaDriverInstaller | None = None
    buckets: dict[str, ModelBucket] = field(default_factory=dict)
    registry: ImageRegistry | None = None
    identities: list[WorkloadIdentity] = field(default_factory=list)
    namespaces: dict[str, k8s.core.v1.Namespace] = field(default_factory=dict)
    adapter: CustomMetricsAdapter | None = None
    project_number: pulumi.Output[str] | None = None

    def identity(self, workload: str) -> WorkloadIdentity | None:
        return next((i for i in self.identities if i.workload == workload), None)

    def capacity_for(self, gpu: ModelGpu | None) -> list[pulumi.Resource]:
        """What a pod asking for ``gpu`` needs to exist before it can become Ready: the pools that
        can hold it and the driver installer, and Cloud NAT when nodes are private (server images
        outside Google, Hugging Face downloads). Without these edges Pulumi would start waiting for
        the Deployment while its nodes are still being created."""
        out: list[pulumi.Resource] = []
        if gpu is not None:
            names = {p.gke_name for p in self.cfg.pools_for_gpu(gpu)}
            out += [p for p in self.pools if p.args.gke_name in names]
            if self.driver is not None:
                out.append(self.driver)
        if self.network is not None and self.network.nat is not None:
            out.append(self.network.nat)
        return out

    def exports(self) -> dict[str, object]:
        out: dict[str, object] = {
            "environment": self.cfg.environment,
            "version": naming.__version__,
            "clusterMode": self.cfg.cluster.mode,
            "clusterName": self.cluster.name,
            "clusterLocation": self.cfg.cluster.location,
            "kubeconfig": self.cluster.kubeconfig,
            "controlPlane": control_plane_access(self.cfg),
            "gpuPools": [p.pool.name for p in self.pools],
            "getCredentials": pulumi.Output.concat(
                "gcloud container clusters get-credentials ",
                self.cluster.name,
                f" --location {self.cfg.cluster.location} --project {self.cfg.project}",
            ),
        }
        if self.cluster.node_service_account is not None:
            out["nodeServiceAccount"] = self.cluster.node_service_account.email
        out["buckets"] = {key: b.url for key, b in self.buckets.items()}
        out["registries"] = dict(self.registry.urls) if self.registry else {}
        out["imageMirrors"] = dict(self.registry.mirrors) if self.registry else {}
        out["identities"] = [
            {
                "workload": ident.workload,
                "ksa": f"{ident.namespace}/{ident.ksa_name}",
                "identity": ident.gsa_email if ident.gsa_email is not None else ident.member,
            }
            for ident in self.identities
        ]
        return out


def build(cfg: StackConfig) -> Platform:
    """Create every resource the config asks for; each Google resource waits for its API."""
    creates_cluster = cfg.cluster.mode != "existing"
    apis = ProjectApis("apis", cfg.project)

    network = None
    if creates_cluster:
        network = Network(
            "network",
            network_args(cfg),
            apis=apis,
        )
    cluster = GkeCluster(
        "cluster",
        cluster_args(cfg),
        apis=apis,
        network=network.network if network else None,
        subnetwork=network.subnetwork if network else None,
    )
    platform = Platform(cfg=cfg, cluster=cluster, network=network)
    if cfg.identity.mode == "direct":
        # Every direct principal names the project by number: the models', the grants' and the
        # metrics adapter's alike.
        platform.project_number = gcp.organizations.get_project_output(
            project_id=cfg.project, opts=apis.invoke_opts("gcp:organizations/getProject:getProject")
        ).number

    if cfg.cluster.mode == "standard":
        for args in pool_args(cfg):
            platform.pools.append(
                GpuNodePool(
                    f"gpu-{args.key}",
                    args,
                    apis=apis,
                    cluster_id=cluster.resource.id,
                    service_account_email=cluster.node_service_account.email,
                    node_roles=cluster.node_roles,
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

    for bucket in cfg.storage.buckets:
        platform.buckets[bucket.name] = ModelBucket(
            f"bucket-{bucket.name}",
            bucket_args(cfg, bucket),
            apis=apis,
        )
    node_sa = cluster.node_service_account
    platform.registry = ImageRegistry(
        "registry",
        registry_args(cfg),
        apis=apis,
        reader_member=registry_reader(cfg, node_sa.member if node_sa is not None else None),
    )
    platform.identities = _identities(cfg, platform, apis)
    if cfg.metrics.custom_metrics_adapter:
        platform.adapter = CustomMetricsAdapter(
            "metrics-adapter",
            adapter_args(cfg),
            apis=apis,
            workload_pool=cluster.workload_pool,
            provider=cluster.provider,
            project_number=platform.project_number,
            deleted_with=cluster.resource,
        )
    if cfg.models and (cfg.metrics.dashboard or cfg.metrics.alerts):
        Monitoring("monitoring", monitoring_args(cfg), apis=apis)
    apis.finish()
    return platform


def _identities(cfg: StackConfig, platform: Platform, apis: ProjectApis) -> list[WorkloadIdentity]:
    all_args = identity_args(cfg)
    if not all_args:
        return []
    cluster = platform.cluster
    k8s_opts = pulumi.ResourceOptions(provider=cluster.provider, deleted_with=cluster.resource)
    platform.namespaces = namespaces = {
        ns: k8s.core.v1.Namespace(
            f"ns-{ns}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels=naming.k8s_labels(cfg.environment, "namespace", ns)),
            opts=k8s_opts,
        )
        for ns in dict.fromkeys(a.namespace for a in all_args)
    }
    bucket_names: dict[str, pulumi.Input[str]] = {key: b.name for key, b in platform.buckets.items()}
    for a in all_args:
        for key in a.reads + a.writes:
            bucket_names.setdefault(key, key)  # a literal bucket the stack does not own
    return [
        WorkloadIdentity(
            f"id-{a.workload}",
            a,
            apis=apis,
            workload_pool=cluster.workload_pool,
            buckets=bucket_names,
            provider=cluster.provider,
            project_number=platform.project_number,
            namespace=namespaces[a.namespace],
            deleted_with=cluster.resource,
        )
        for a in all_args
    ]
