"""The platform's decisions, as pure functions: what each component gets from the validated
:class:`~infra.config.StackConfig` (plain args dataclasses, no resources), which driver variants
and buckets a stack needs, and how the stack reaches its control plane. :mod:`infra.platform`
wires the components with them; tests call them without a Pulumi runtime.
"""

from __future__ import annotations

import math

from infra import capacity, catalog, naming, signals
from infra.cluster_spec import ClusterArgs
from infra.config import UPSTREAMS, BucketConfig, ModelConfig, StackConfig, identity_subjects
from infra.config.values import bucket_ref
from infra.gpu_driver import variant_for_image_type
from infra.identity import IdentityArgs
from infra.metrics import AdapterArgs
from infra.monitoring import ModelPanel, MonitoringArgs, Scope
from infra.network import NetworkArgs
from infra.node_pools import GpuPoolArgs
from infra.registry import RegistryArgs, RemoteArgs
from infra.storage import BucketArgs


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


def autoprovisioning_limits(cfg: StackConfig) -> tuple[tuple[str, int], ...]:
    """Node auto-provisioning maxima of a Standard cluster with compute classes: everything every
    pool may grow to (the system pool, the GPU pools, each class at maxNodes), as GKE counts them,
    so the limits never stop a scale-up the config allows. CPU in vCPUs, memory in GB (gcloud
    --max-memory), GPUs by accelerator type (``nvidia-l4``, ``nvidia-tesla-t4``)."""
    if cfg.cluster.mode != "standard" or not cfg.compute_classes:
        return ()
    sp = cfg.cluster.system_pool
    shapes = [(sp.machine_type, sp.max_nodes, None, 0)]
    shapes += [(p.machine_type, p.max_nodes, p.accelerator, p.gpus_per_node) for p in cfg.gpu_pools]
    shapes += [(c.machine_type, c.max_nodes, c.accelerator, c.gpus_per_node) for c in cfg.compute_classes]
    cpu = memory = 0
    gpus: dict[str, int] = {}
    for machine, nodes, accelerator, per_node in shapes:
        shape = catalog.machine_shape(machine)
        cpu += shape.vcpus * nodes
        memory += math.ceil(shape.memory_gib * nodes)
        if accelerator:
            gpus[accelerator] = gpus.get(accelerator, 0) + per_node * nodes
    return (("cpu", cpu), ("memory", memory), *sorted(gpus.items()))


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
        autoprovisioning_limits=autoprovisioning_limits(cfg),
        gateway_api=bool(cfg.gateway_models),
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


def network_args(cfg: StackConfig) -> NetworkArgs:
    net = cfg.effective_network
    return NetworkArgs(
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
        proxy_only_cidr=cfg.proxy_only_cidr if net.mode == "create" else None,
    )


def bucket_args(cfg: StackConfig, bucket: BucketConfig) -> BucketArgs:
    return BucketArgs(
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
    )


def registry_args(cfg: StackConfig) -> RegistryArgs:
    reg = cfg.registry
    remotes = tuple(
        RemoteArgs(
            key=r.name,
            upstream=r.upstream,
            title=UPSTREAMS[r.upstream].title,
            public_repository=UPSTREAMS[r.upstream].public_repository,
            uri=UPSTREAMS[r.upstream].uri,
        )
        for r in reg.remotes
    )
    return RegistryArgs(
        prefix=cfg.prefix,
        project=cfg.project,
        region=cfg.region,
        repositories=reg.repositories,
        untagged_retention_days=reg.untagged_retention_days,
        immutable_tags=cfg.environment == "prod",
        remotes=remotes,
        cached_delete_days=reg.cached_images.delete_older_than_days,
        cached_keep=reg.cached_images.keep_most_recent,
        labels=naming.gcp_labels(cfg.environment, "registry", cfg.labels),
    )


def registry_reader(cfg: StackConfig, node_member: object | None) -> object | None:
    """Who reads the stack's repositories: the node service account the stack creates (Standard
    pools and Autopilot's auto-provisioned nodes both run as it), else, for an existing cluster,
    the one ``registry.nodeServiceAccount`` names; None when neither is known."""
    if node_member is not None:
        return node_member
    account = cfg.registry.node_service_account
    return f"serviceAccount:{account}" if account else None


def adapter_args(cfg: StackConfig) -> AdapterArgs:
    return AdapterArgs(
        project=cfg.project, prefix=cfg.prefix, environment=cfg.environment, identity_mode=cfg.identity.mode
    )


def monitoring_args(cfg: StackConfig) -> MonitoringArgs:
    panels = []
    for m in cfg.models:
        server_signals = [
            s for s in (m.autoscaling.signals if m.autoscaling else ()) if signals.SIGNALS[s.signal].source == "server"
        ]
        offered = [n for n in signals.signals_for(m.server) if signals.SIGNALS[n].source == "server"]
        # A model scaling on its gateway's pool queue shows the per-pod queue that average is made of.
        gateway = any(
            signals.SIGNALS[s.signal].source == "gateway" for s in (m.autoscaling.signals if m.autoscaling else ())
        )
        first = server_signals[0].signal if server_signals and not gateway else (offered[0] if offered else None)
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
