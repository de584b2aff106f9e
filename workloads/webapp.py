"""Seed 000's web front end (fastdash): a CPU Deployment and Service that call one TorchServe
model's prediction and management endpoints (``MODEL_PREDICTION`` / ``MODEL_MANAGEMENT``)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.config import ComponentArgs, WebappConfig
from workloads import images, pod
from workloads.context import Context
from workloads.server import Port
from workloads.serving import ServiceArgs, selector, service_options, service_spec

COMPONENT = "webapp"
NAME = "fastdash"


def model_urls(model: str, namespace: str) -> dict[str, str]:
    """TorchServe's prediction (8080) and management (8081) URLs of ``model``'s Service."""
    host = f"http://{model}.{namespace}.svc.cluster.local"
    return {"MODEL_PREDICTION": f"{host}:8080/predictions/{model}", "MODEL_MANAGEMENT": f"{host}:8081/models/{model}"}


class WebappArgs(ComponentArgs):
    webapp: WebappConfig
    namespace: str
    environment: str


class Webapp(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: WebappArgs,
        *,
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None = None,
        after: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:workloads:Webapp", name, None, opts)
        w = args.webapp
        match = selector(COMPONENT, NAME)
        labels = naming.k8s_labels(args.environment, COMPONENT, NAME)
        child = pulumi.ResourceOptions(
            parent=self, provider=provider, deleted_with=deleted_with, depends_on=list(after or [])
        )
        check = pod.HttpCheck("/", "http")
        # Not seen with a real process: fastdash exists only as the stack's image (seed 000 builds
        # it), so where it writes is not known here; it gets a /tmp on its read-only root.
        scratch = pod.scratch_volumes(w.resources.ephemeral_storage, (pod.TMP,))
        container = k8s.core.v1.ContainerArgs(
            name="fastdash",
            image=w.image,
            image_pull_policy=images.pull_policy(w.image),
            env=[
                k8s.core.v1.EnvVarArgs(name=k, value=v)
                for k, v in {**model_urls(w.model, args.namespace), "PORT": str(w.port)}.items()
            ],
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=w.port, protocol="TCP")],
            resources=pod.resources(w.resources.cpu, w.resources.memory, w.resources.ephemeral_storage),
            volume_mounts=[mount for _, mount in scratch],
            lifecycle=pod.drain_lifecycle(),
            security_context=pod.container_security(w.run_as_user),
            **pod.probe_args(pod.Probes.on(check, startup_seconds=120)),
        )
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=w.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=match),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        node_selector=pod.cpu_placement().node_selector,
                        security_context=pod.pod_security(w.run_as_user),
                        automount_service_account_token=pod.NO_API_TOKEN,
                        termination_grace_period_seconds=pod.termination_grace(10),
                        topology_spread_constraints=pod.zone_spread(match),
                        volumes=[volume for volume, _ in scratch],
                        containers=[container],
                    ),
                ),
            ),
            opts=child,
        )
        s = w.service
        svc_spec, svc_labels, annotations = service_spec(
            ServiceArgs(
                type=s.type or "ClusterIP", internal=s.internal, allow_in_prod=s.allow_in_prod, allow_from=s.allow_from
            ),
            (Port("http", w.port),),
            match,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAME, namespace=args.namespace, labels={**labels, **svc_labels}, annotations=annotations or None
            ),
            spec=svc_spec,
            opts=service_options(svc_spec.type, provider, deleted_with, self, after),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=NAME, namespace=args.namespace, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=match)
            ),
            opts=child,
        )
        self.endpoint = f"http://{NAME}.{args.namespace}.svc.cluster.local:{w.port}"
        self.register_outputs({"endpoint": self.endpoint})


def front_end(ctx: Context, servers: dict[str, pulumi.Resource]) -> Webapp | None:
    """The web front end, after the model it calls (``servers``: model -> its server)."""
    if ctx.cfg.webapp is None:
        return None
    return Webapp(
        "webapp",
        WebappArgs(webapp=ctx.cfg.webapp, namespace=ctx.namespace, environment=ctx.cfg.environment),
        provider=ctx.provider,
        deleted_with=ctx.deleted_with,
        after=[
            *ctx.in_namespace,
            servers[ctx.cfg.webapp.model],
            *ctx.platform.capacity_for(None),
            *ctx.pulls(ctx.cfg.webapp.image),
        ],
    )
