"""One served model as Kubernetes objects: a GPU Deployment, its Service and PodDisruptionBudget
(and the server's ConfigMap). The server-specific parts come from a :class:`ServerSpec`; the pod
pieces from :mod:`workloads.pod`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import pulumi
import pulumi_kubernetes as k8s

from infra import coldstart, naming
from infra.config import ComponentArgs, ModelConfig, StackConfig
from workloads import images, pod, predictor, torchserve, triton, vllm
from workloads.context import Context
from workloads.jobs import ConversionJob
from workloads.server import Port, ServerSpec, resolve_uri, source_of

COMPONENT = "model-server"
LB_TYPE_ANNOTATION = "networking.gke.io/load-balancer-type"
# The opt-in label an external LoadBalancer carries when service.allowInProd is set (the policy
# pack's k8s-prod-load-balancer-opt-in rule checks it; internal load balancers need none).
LB_OPT_IN_LABEL = f"{naming.PROJECT}/public-load-balancer"
ROLLOUT_MARGIN_SECONDS = 600


def selector(component: str, name: str) -> dict[str, str]:
    """The stable labels a workload's Service, PDB, policies and monitors select it by."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component}


class ServiceArgs(ComponentArgs):
    type: str = "ClusterIP"
    internal: bool = True
    allow_in_prod: bool = False
    allow_from: tuple[str, ...] = ()


def service_spec(
    svc: ServiceArgs, ports: tuple[Port, ...], match: dict[str, str]
) -> tuple[k8s.core.v1.ServiceSpecArgs, dict[str, str], dict[str, str]]:
    """(spec, extra labels, annotations) of a workload's Service."""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    spec = k8s.core.v1.ServiceSpecArgs(
        type=svc.type,
        selector=dict(match),
        ports=[
            k8s.core.v1.ServicePortArgs(name=p.name, port=p.port, target_port=p.name, protocol="TCP") for p in ports
        ],
        load_balancer_source_ranges=(list(svc.allow_from) or None) if svc.type == "LoadBalancer" else None,
    )
    if svc.type == "LoadBalancer":
        if svc.internal:
            annotations[LB_TYPE_ANNOTATION] = "Internal"
        elif svc.allow_in_prod:
            labels[LB_OPT_IN_LABEL] = "true"
    return spec, labels, annotations


def service_args(model: ModelConfig) -> ServiceArgs:
    s = model.service
    return ServiceArgs(
        type=model.service_type, internal=s.internal, allow_in_prod=s.allow_in_prod, allow_from=s.allow_from
    )


CONFIG_HASH_ANNOTATION = f"{naming.PROJECT}/config-hash"
# Where a server's image comes from and whether GKE streams it (on the Deployment, not its pods:
# the plan and `kubectl describe` show them, and a change of wording rolls no pod).
IMAGE_UPSTREAM_ANNOTATION = f"{naming.PROJECT}/image-upstream"
IMAGE_STREAMING_ANNOTATION = f"{naming.PROJECT}/image-streaming"
FIRST_ANSWER_ANNOTATION = f"{naming.PROJECT}/time-to-first-answer"
# Why an Autopilot pod selects its driver version (the plan prints it).
DRIVER_ANNOTATION = f"{naming.PROJECT}/gpu-driver"


def driver_version(args: ModelServerArgs, spec: ServerSpec) -> str | None:
    """The Autopilot driver selector: the model's gpu.driverVersion, else what its image needs."""
    if not args.autopilot or args.model.compute_class:
        return None  # Standard: the pool decides; a compute class: the class (priorities[].gpu.driverVersion)
    if args.model.gpu.driver_version:
        return args.model.gpu.driver_version
    return spec.driver.version if spec.driver else None


def driver_annotation(args: ModelServerArgs, spec: ServerSpec) -> dict[str, str]:
    if args.autopilot and not args.model.compute_class and not args.model.gpu.driver_version and spec.driver:
        return {DRIVER_ANNOTATION: f"{spec.driver.version}: {spec.driver.reason}"}
    return {}


def template_annotations(spec: ServerSpec) -> dict[str, str]:
    """Pod annotations: GCS FUSE opt-in, and a hash of the server's config file so a config
    change rolls the pods (a mounted ConfigMap alone does not restart the server)."""
    out = dict(spec.parts.annotations)
    if spec.config_files:
        blob = "\n".join(f"{k}\n{v}" for k, v in sorted(spec.config_files.items()))
        out[CONFIG_HASH_ANNOTATION] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return out


def service_options(
    service_type: str,
    provider: pulumi.ProviderResource,
    deleted_with: pulumi.Resource | None,
    parent: pulumi.Resource,
    after: list[pulumi.Resource] | None = None,
) -> pulumi.ResourceOptions:
    """A LoadBalancer Service is never ``deleted_with`` the cluster: GKE's load balancer,
    forwarding rules, NEGs and firewall rules live outside the state and go only when the Service
    is deleted, which Pulumi then does before the cluster (the provider depends on it)."""
    keep = None if service_type == "LoadBalancer" else deleted_with
    return pulumi.ResourceOptions(parent=parent, provider=provider, deleted_with=keep, depends_on=after or [])


class ModelServerArgs(ComponentArgs):
    model: ModelConfig
    namespace: str
    environment: str
    autopilot: bool
    node_pools: tuple[str, ...] = ()
    # An HPA owns spec.replicas after creation: pulumi up must not reset it.
    autoscaled: bool = False
    # The image as configured (or the server's default) when the pods pull it through a mirror.
    image_upstream: str | None = None
    image_streaming: str | None = None
    # The cold-start estimate of a new replica and its startup probe budget (infra/coldstart.py).
    first_answer: str | None = None


def deployment_annotations(args: ModelServerArgs) -> dict[str, str] | None:
    out = {
        IMAGE_UPSTREAM_ANNOTATION: args.image_upstream,
        IMAGE_STREAMING_ANNOTATION: args.image_streaming,
        FIRST_ANSWER_ANNOTATION: args.first_answer,
    }
    return {k: v for k, v in out.items() if v} or None


def pod_spec(args: ModelServerArgs, spec: ServerSpec, config_map: pulumi.Input[str] | None) -> k8s.core.v1.PodSpecArgs:
    """The serving pod: GPU placement, requests = limits, probes, drain, non-root, zone spread."""
    m = args.model
    if m.compute_class:
        placement = pod.class_placement(m.compute_class, autopilot=args.autopilot)
    else:
        placement = pod.gpu_placement(
            m.gpu.type, autopilot=args.autopilot, node_pools=args.node_pools, driver_version=driver_version(args, spec)
        )
    volumes = list(spec.parts.volumes)
    mounts = list(spec.parts.mounts)
    for volume, mount in pod.scratch_volumes(m.resources.ephemeral_storage, spec.scratch):
        volumes.append(volume)
        mounts.append(mount)
    shm_vol, shm_mount = pod.shm_volume(m.shm_size or pod.default_shm_size(m.server, m.resources.memory))
    volumes.append(shm_vol)
    mounts.append(shm_mount)
    if config_map is not None:
        volumes.append(
            k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map))
        )
        mounts.append(k8s.core.v1.VolumeMountArgs(name="config", mount_path=spec.config_dir, read_only=True))
    container = k8s.core.v1.ContainerArgs(
        name="server",
        image=spec.image,
        image_pull_policy=images.pull_policy(spec.image),
        command=spec.command or None,
        args=spec.args or None,
        env=spec.env or None,
        ports=[k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.port, protocol="TCP") for p in spec.ports],
        resources=pod.resources(m.resources.cpu, m.resources.memory, m.resources.ephemeral_storage, m.gpu.count),
        volume_mounts=mounts,
        lifecycle=pod.drain_lifecycle(),
        security_context=pod.container_security(m.run_as_user),
        **pod.probe_args(spec.probes),
    )
    return k8s.core.v1.PodSpecArgs(
        service_account_name=m.ksa.name,
        # The servers never call the Kubernetes API: no token in the pod (pod.NO_API_TOKEN says
        # why Workload Identity and GCS FUSE need none).
        automount_service_account_token=pod.NO_API_TOKEN,
        node_selector=placement.node_selector,
        tolerations=placement.toleration_args(),
        affinity=placement.affinity(),
        security_context=pod.pod_security(m.run_as_user),
        termination_grace_period_seconds=pod.termination_grace(spec.shutdown_seconds),
        topology_spread_constraints=pod.zone_spread(selector(COMPONENT, m.name)),
        volumes=volumes,
        containers=[container],
    )


class ModelServer(pulumi.ComponentResource):
    """Deployment + Service + PodDisruptionBudget (+ ConfigMap) of one model."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    endpoint: str
    spec: ServerSpec

    def __init__(
        self,
        name: str,
        args: ModelServerArgs,
        *,
        spec: ServerSpec,
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None = None,
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``after``: what every object of the model waits for (its namespace, identity, conversion
        Jobs, nodes and egress). Pulumi does not pass a component's ``depends_on`` to its children."""
        super().__init__("gke-gpu-serving:workloads:ModelServer", name, None, opts)
        m = args.model
        self.spec = spec
        self.selector = selector(COMPONENT, m.name)
        labels = {**naming.k8s_labels(args.environment, COMPONENT, m.name), f"{naming.PROJECT}/server": m.server}
        k8s_opts = pulumi.ResourceOptions(
            parent=self, provider=provider, deleted_with=deleted_with, depends_on=list(after or [])
        )

        def meta(obj_name: str, extra: dict[str, str] | None = None, annotations=None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj_name, namespace=args.namespace, labels={**labels, **(extra or {})}, annotations=annotations
            )

        config_map = None
        if spec.config_files:
            config_map = k8s.core.v1.ConfigMap(
                f"{name}-config", metadata=meta(f"{m.name}-config"), data=dict(spec.config_files), opts=k8s_opts
            )
        startup = spec.probes.startup_seconds
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(m.name, annotations=deployment_annotations(args)),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=m.replicas.min,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                # Surge one pod, never drop below the serving count: GPUs are slow to come back.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
                ),
                progress_deadline_seconds=startup + ROLLOUT_MARGIN_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels,
                        annotations={**template_annotations(spec), **driver_annotation(args, spec)} or None,
                    ),
                    spec=pod_spec(args, spec, config_map.metadata.name if config_map else None),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    ignore_changes=["spec.replicas"] if args.autoscaled else None,
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{startup + ROLLOUT_MARGIN_SECONDS}s", update=f"{startup + ROLLOUT_MARGIN_SECONDS}s"
                    ),
                ),
            ),
        )
        svc_spec, svc_labels, svc_annotations = service_spec(
            service_args(m), spec.service_ports or spec.ports, self.selector
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(m.name, svc_labels, svc_annotations or None),
            spec=svc_spec,
            opts=service_options(svc_spec.type, provider, deleted_with, self, after),
        )
        # maxUnavailable 1 lets node upgrades and drains proceed one pod at a time, even at 1 replica.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(m.name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector)
            ),
            opts=k8s_opts,
        )
        self.endpoint = f"http://{m.name}.{args.namespace}.svc.cluster.local:{spec.ports[0].port}"
        self.register_outputs({"endpoint": self.endpoint})


HF_SECRET = "hf-token"


def server_spec(
    model: ModelConfig, buckets: dict[str, pulumi.Input[str]], hf_secret: str | None, *, autopilot: bool = False
) -> ServerSpec:
    """The server-specific half of a model's pod."""
    source = dataclasses.replace(
        source_of(model.source, buckets), cache=coldstart.fuse_mount(model, autopilot=autopilot)
    )
    if model.server == "torchserve":
        return torchserve.spec(model, source)
    if model.server == "triton":
        return triton.spec(model, source)
    if model.server == "vllm":
        return vllm.spec(model, source, hf_secret)
    opts = model.options
    uri = opts.converted_model_upload_path if opts.faster_transformer else model.source
    return predictor.spec(model, resolve_uri(uri, buckets))


def needs_hf_token(cfg: StackConfig) -> list[str]:
    return [m.name for m in cfg.models if m.source.startswith("hf://")]


def hf_token_secret(ctx: Context) -> str | None:
    """The Secret holding the Hugging Face token when a model downloads from the Hub and a token
    is set (its name, for the pods); a warning when a model downloads from the Hub without one."""
    cfg = ctx.cfg
    hf_models = needs_hf_token(cfg)
    if hf_models and cfg.hf_token is not None:
        k8s.core.v1.Secret(
            "hf-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=HF_SECRET, namespace=ctx.namespace, labels=naming.k8s_labels(cfg.environment, "secret", HF_SECRET)
            ),
            type="Opaque",
            string_data={vllm.HF_TOKEN_KEY: pulumi.Output.secret(cfg.hf_token.get_secret_value())},
            opts=ctx.base,
        )
        return HF_SECRET
    if hf_models:
        pulumi.log.warn(
            f"models {', '.join(hf_models)} download from Hugging Face without a token: gated models "
            "(Mistral, Llama, Gemma) will fail with 401. Set one with "
            "`pulumi config set --secret gke-gpu-serving:hfToken hf_...`."
        )
    return None


def model_servers(
    ctx: Context,
    conversions: dict[str, ConversionJob],
    hf_secret: str | None,
    classes: dict[str, pulumi.Resource],
) -> dict[str, ModelServer]:
    """One :class:`ModelServer` per model, each after its namespace, its identity, the conversion
    Jobs that write what it serves, the capacity its pods need (its pools, or its compute class:
    ``classes``, class name -> the ComputeClass object) and the repository its image is pulled
    from (with the nodes' read grant). The one place a server image is rewritten to the remote
    repository caching its registry (:meth:`Context.server_image`); the spec keeps the upstream
    reference, so what is derived from it (vLLM's Autopilot driver) keys on upstream."""
    cfg, platform = ctx.cfg, ctx.platform
    out: dict[str, ModelServer] = {}
    for model in cfg.models:
        identity = platform.identity(model.name)
        after: list[pulumi.Resource] = [*ctx.in_namespace, *([identity] if identity else [])]
        after += [c.job for c in conversions.values() if c.conversion.model == model.name]
        if model.compute_class:
            after += [classes[model.compute_class], *platform.capacity_for(None)]
        else:
            after += platform.capacity_for(model.gpu)
        spec = server_spec(model, ctx.buckets, hf_secret, autopilot=cfg.autopilot)
        upstream, spec.image = spec.image, ctx.server_image(spec.image)
        after += ctx.pulls(spec.image)
        streams = ctx.streams(spec.image, model.gpu)
        cold = coldstart.estimate(cfg, model, streamed=streams.startswith("yes"))
        budget = coldstart.startup_seconds(cold, spec.probes.startup_seconds)
        spec.probes = dataclasses.replace(spec.probes, startup_seconds=budget)
        if cold.short:
            pulumi.log.warn(
                f"models {model.name}: startupSeconds {cold.explicit} is below the estimated "
                f"{math.ceil(cold.in_pod)}s to load the weights and start the server (plan: Time to first answer)"
            )
        out[model.name] = ModelServer(
            f"model-{model.name}",
            ModelServerArgs(
                model=model,
                namespace=ctx.namespace,
                environment=cfg.environment,
                autopilot=cfg.autopilot,
                node_pools=() if model.compute_class else ctx.pools(model.gpu),
                autoscaled=model.autoscaling is not None,
                image_upstream=upstream if upstream != spec.image else None,
                image_streaming=streams,
                first_answer=coldstart.summary(cold, budget),
            ),
            spec=spec,
            provider=ctx.provider,
            deleted_with=ctx.deleted_with,
            after=after,
        )
    return out
