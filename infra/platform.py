"""Composes the platform: network -> cluster -> pools -> driver -> buckets and registry ->
Workload Identities -> metrics adapter -> dashboard and alerts. Each Google resource depends on
the API it calls (:mod:`infra.apis`), each grant to the Workload Identity pool on the cluster.

Each step is a component from its own module; this module only decides which steps a config
needs and hands each one plain args built from the validated :class:`~infra.config.StackConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra import capacity, naming, signals
from infra.apis import ProjectApis
from infra.cluster import ClusterArgs, GkeCluster
from infra.config import ModelConfig, ModelGpu, StackConfig, identity_subjects
from infra.config.values import bucket_ref
from infra.gpu_driver import NvidiaDriverInstaller, variant_for_image_type
from infra.identity import IdentityArgs, WorkloadIdentity
from infra.metrics import AdapterArgs, CustomMetricsAdapter, ModelPanel, Monitoring, MonitoringArgs, Scope
from infra.network import Network, NetworkArgs
from infra.node_pools import GpuNodePool, GpuPoolArgs
from infra.registry import ImageRegistry, RegistryArgs
from infra.storage import BucketArgs, ModelBucket


def driver_variants(cfg: StackConfig) -> tuple[str, ...]:
    """The driver-installer variants the stack needs: one per OS of ``driver: daemonset`` pools."""
    if cfg.autopilot:
        return ()
    if cfg.cluster.mode == "existing":
        return () if cfg.cluster.driver_daemon_set == "none" else (cfg.cluster.driver_daemon_set,)
    found = {variant_for_image_type(p.image_type) for p in cfg.gpu_pools if p.driver == "daemonset"}
    return tuple(sorted(found))


def literal_bucket(source: str) -> str | None:
    """``gs://name/path`` -> ``name`` for a bucket the stack does not own; None otherwise."""
    if not source.startswith("gs://") or source.startswith("gs://{"):
        return None
    return source[len("gs://") :].split("/", 1)[0]


def model_reads(model: ModelConfig) -> tuple[str, ...]:
    """Buckets a served model reads: its source's and, for a FasterTransformer predictor, the
    bucket its conversion Job writes to (it serves the converted model)."""
    uris = [model.source]
    opts = model.options
    if model.server == "predictor" and opts.faster_transformer and opts.converted_model_upload_path:
        uris.append(opts.converted_model_upload_path)
    refs = [bucket_ref(u) or literal_bucket(u) for u in uris]
    return tuple(dict.fromkeys(r for r in refs if r))


def control_plane_access(cfg: StackConfig) -> str:
    """How the stack's own Kubernetes calls reach the control plane, in one line for the plan."""
    cl = cfg.cluster
    nets = ", ".join(n.cidr for n in cl.master_authorized_networks)
    ip = f"IP endpoint limited to {nets}" if nets else "IP endpoint open to any address"
    if cl.kubeconfig_via == "dns":
        return f"kubeconfig: DNS endpoint, IAM-gated (container.clusters.connect), reachable from GitHub-hosted runners; {ip}"
    deploy = f"; pulumi runs from {', '.join(cl.deploy_networks)}" if cl.deploy_networks else ""
    return f"kubeconfig: {ip}{deploy}"


def identity_args(cfg: StackConfig) -> list[IdentityArgs]:
    """One identity per served model and per extra access grant (conversion jobs, tools)."""
    access = {g.workload: g for g in cfg.storage.access}
    out = []
    for workload, namespace, ksa in identity_subjects(cfg):
        model = next((m for m in cfg.models if m.name == workload), None)
        if model is not None:
            reads, writes, create_ksa = model_reads(model), (), model.ksa.create
        else:
            grant = access[workload]
            reads, writes, create_ksa = grant.reads, grant.writes, True
        out.append(
            IdentityArgs(
                workload=workload,
                namespace=namespace,
                ksa_name=ksa,
                project=cfg.project,
                prefix=cfg.prefix,
                environment=cfg.environment,
                mode=cfg.identity.mode,
                create_ksa=create_ksa,
                reads=reads,
                writes=writes,
            )
        )
    return out


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
        dns_endpoint=cl.dns_endpoint,
        kubeconfig_via=cl.kubeconfig_via,
        intranode_visibility=cfg.intranode_visibility,
        binary_authorization=cfg.binary_authorization,
        security_posture=cl.security_posture,
        rbac_groups=cl.rbac_groups,
        system_machine_type=cl.system_pool.machine_type,
        system_min_nodes=cl.system_pool.min_nodes,
        system_max_nodes=cl.system_pool.max_nodes,
        system_disk_size_gb=cl.system_pool.disk_size_gb,
        pods_range_name=net.pods_range_name,
        services_range_name=net.services_range_name,
        labels=naming.gcp_labels(cfg.environment, "cluster", cfg.labels),
    )


def pool_args(cfg: StackConfig) -> list[GpuPoolArgs]:
    needed = {plan.pool.name: plan.nodes_min for plan in capacity.plan_pools(cfg)}
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
            initial_nodes=needed.get(p.name, p.min_nodes),
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
                flow_logs_sampling=net.flow_logs.sampling if cfg.flow_logs else None,
                flow_logs_interval=net.flow_logs.aggregation_interval,
                flow_logs_metadata=net.flow_logs.metadata,
            ),
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
            BucketArgs(
                key=bucket.name,
                prefix=cfg.prefix,
                project=cfg.project,
                location=cfg.region,
                purpose=bucket.purpose,
                force_destroy=bucket.force_destroy,
                protect=cfg.protect_bucket(bucket),
                retain_on_delete=cfg.retain_bucket(bucket),
                noncurrent_version_days=bucket.noncurrent_version_days,
                soft_delete_days=bucket.soft_delete_days,
                storage_class=bucket.storage_class,
                labels=naming.gcp_labels(cfg.environment, f"bucket-{bucket.name}", cfg.labels),
            ),
            apis=apis,
        )
    node_sa = cluster.node_service_account
    platform.registry = ImageRegistry(
        "registry",
        RegistryArgs(
            prefix=cfg.prefix,
            project=cfg.project,
            region=cfg.region,
            repositories=cfg.registry.repositories,
            untagged_retention_days=cfg.registry.untagged_retention_days,
            immutable_tags=cfg.environment == "prod",
            labels=naming.gcp_labels(cfg.environment, "registry", cfg.labels),
        ),
        apis=apis,
        reader_member=node_sa.member if node_sa is not None else None,
    )
    platform.identities = _identities(cfg, platform, apis)
    if cfg.metrics.custom_metrics_adapter:
        platform.adapter = CustomMetricsAdapter(
            "metrics-adapter",
            AdapterArgs(
                project=cfg.project, prefix=cfg.prefix, environment=cfg.environment, identity_mode=cfg.identity.mode
            ),
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


def monitoring_args(cfg: StackConfig) -> MonitoringArgs:
    panels = []
    for m in cfg.models:
        server_signals = [
            s for s in (m.autoscaling.signals if m.autoscaling else ()) if signals.SIGNALS[s.signal].source == "server"
        ]
        offered = [n for n in signals.signals_for(m.server) if signals.SIGNALS[n].source == "server"]
        first = server_signals[0].signal if server_signals else (offered[0] if offered else None)
        panels.append(
            ModelPanel(
                name=m.name,
                server=m.server,
                namespace=cfg.identity.namespace,
                queue_signal=signals.resolve(first, m.server).hpa_metric if first else None,
            )
        )
    return MonitoringArgs(
        project=cfg.project,
        prefix=cfg.prefix,
        environment=cfg.environment,
        namespace=cfg.identity.namespace,
        scope=Scope(cluster=cfg.cluster_name, location=cfg.cluster.location),
        panels=tuple(panels),
        dashboard=cfg.metrics.dashboard,
        alerts=cfg.metrics.alerts,
        notification_channels=cfg.metrics.notification_channels,
    )


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
