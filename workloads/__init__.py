"""What runs on the cluster: the serving workloads and the apps around them.

:func:`build` turns the validated config into one :class:`~workloads.serving.ModelServer` per
model (TorchServe, Triton, vLLM or the LLM-pipeline predictor), the conversion Jobs that must
finish before a model serves, the web front end, the opt-in load generator and the namespace's
NetworkPolicies. Every object goes through the cluster's provider and is ``deleted_with`` the
cluster: deleting the cluster deletes them anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import naming, signals
from infra.config import ModelConfig, StackConfig
from infra.config.values import bucket_ref
from infra.platform import Platform
from workloads import autoscaling, network, predictor, torchserve, triton, vllm
from workloads.jobs import ConversionArgs, ConversionJob, LoadGenerator, LoadGeneratorArgs
from workloads.server import ServerSpec, Source
from workloads.serving import ModelServer, ModelServerArgs, selector, service_args
from workloads.webapp import Webapp, WebappArgs

HF_SECRET = "hf-token"


def resolve_uri(uri: str, buckets: dict[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """``gs://{key}/path`` -> ``gs://<physical bucket>/path``; anything else unchanged."""
    ref = bucket_ref(uri)
    if ref is None:
        return uri
    rest = uri[len(f"gs://{{{ref}}}") :]
    return pulumi.Output.concat("gs://", buckets[ref], rest)


def source_of(uri: str, buckets: dict[str, pulumi.Input[str]]) -> Source:
    if uri.startswith("hf://"):
        return Source(uri=uri, hf_id=uri[len("hf://") :])
    ref = bucket_ref(uri)
    bucket = buckets[ref] if ref is not None else uri[len("gs://") :].split("/", 1)[0]
    path = uri.split("://", 1)[1].partition("/")[2].strip("/")
    return Source(uri=resolve_uri(uri, buckets), bucket=bucket, path=path)


def server_spec(model: ModelConfig, buckets: dict[str, pulumi.Input[str]], hf_secret: str | None) -> ServerSpec:
    """The server-specific half of a model's pod."""
    source = source_of(model.source, buckets)
    if model.server == "torchserve":
        return torchserve.spec(model, source)
    if model.server == "triton":
        return triton.spec(model, source)
    if model.server == "vllm":
        return vllm.spec(model, source, hf_secret)
    opts = model.options
    uri = opts.converted_model_upload_path if opts.faster_transformer else model.source
    return predictor.spec(model, resolve_uri(uri, buckets))


def uses_dcgm(model: ModelConfig) -> bool:
    return any(signals.SIGNALS[s.signal].source == "dcgm" for s in model.autoscaling.signals)


def needs_hf_token(cfg: StackConfig) -> list[str]:
    return [m.name for m in cfg.models if m.source.startswith("hf://")]


@dataclass
class Workloads:
    servers: dict[str, ModelServer] = field(default_factory=dict)
    conversions: dict[str, ConversionJob] = field(default_factory=dict)
    webapp: Webapp | None = None

    def exports(self) -> dict[str, object]:
        out: dict[str, object] = {"endpoints": {name: s.endpoint for name, s in self.servers.items()}}
        if self.webapp is not None:
            out["webapp"] = self.webapp.endpoint
        return out


def build(cfg: StackConfig, platform: Platform) -> Workloads:
    out = Workloads()
    if not cfg.models:
        return out
    cluster = platform.cluster
    ns = cfg.identity.namespace
    namespace = platform.namespaces.get(ns)
    in_namespace: list[pulumi.Resource] = [namespace] if namespace else []
    base = pulumi.ResourceOptions(provider=cluster.provider, deleted_with=cluster.resource, depends_on=in_namespace)
    buckets: dict[str, pulumi.Input[str]] = {key: b.name for key, b in platform.buckets.items()}

    hf_secret = None
    hf_models = needs_hf_token(cfg)
    if hf_models and cfg.hf_token is not None:
        hf_secret = HF_SECRET
        k8s.core.v1.Secret(
            "hf-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=HF_SECRET, namespace=ns, labels=naming.k8s_labels(cfg.environment, "secret", HF_SECRET)
            ),
            type="Opaque",
            string_data={vllm.HF_TOKEN_KEY: pulumi.Output.secret(cfg.hf_token.get_secret_value())},
            opts=base,
        )
    elif hf_models:
        pulumi.log.warn(
            f"models {', '.join(hf_models)} download from Hugging Face without a token: gated models "
            "(Mistral, Llama, Gemma) will fail with 401. Set one with "
            "`pulumi config set --secret gke-gpu-serving:hfToken hf_...`."
        )

    k8s.networking.v1.NetworkPolicy(
        "netpol-default-deny",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="default-deny-ingress",
            namespace=ns,
            labels=naming.k8s_labels(cfg.environment, "network-policy", "default-deny-ingress"),
        ),
        spec=network.default_deny(),
        opts=base,
    )

    def pools(gpu) -> tuple[str, ...]:
        return tuple(p.gke_name for p in cfg.pools_for_gpu(gpu)) if cfg.cluster.mode == "standard" else ()

    conversions = [conv for _, conv in cfg.all_conversions]  # synthesizes the predictor ones: once
    for conv in conversions:
        grant = cfg.grant(conv.workload)
        identity = platform.identity(conv.workload)
        job_ns = grant.namespace or ns if grant else ns
        out.conversions[conv.name] = ConversionJob(
            f"convert-{conv.name}",
            ConversionArgs(
                conversion=conv,
                namespace=job_ns,
                ksa=(grant.service_account or grant.workload) if grant else conv.workload,
                environment=cfg.environment,
                autopilot=cfg.autopilot,
                node_pools=pools(conv.gpu) if conv.gpu else (),
            ),
            source=resolve_uri(conv.source, buckets),
            destination=resolve_uri(conv.destination, buckets),
            provider=cluster.provider,
            deleted_with=cluster.resource,
            after=[
                *([platform.namespaces[job_ns]] if job_ns in platform.namespaces else []),
                *([identity] if identity else []),
                *platform.capacity_for(conv.gpu),
            ],
        )

    for model in cfg.models:
        spec = server_spec(model, buckets, hf_secret)
        identity = platform.identity(model.name)
        after: list[pulumi.Resource] = [*in_namespace, *([identity] if identity else [])]
        after += [out.conversions[c.name].job for c in conversions if c.model == model.name]
        after += platform.capacity_for(model.gpu)
        server = ModelServer(
            f"model-{model.name}",
            ModelServerArgs(
                model=model,
                namespace=ns,
                environment=cfg.environment,
                autopilot=cfg.autopilot,
                node_pools=pools(model.gpu),
                autoscaled=model.autoscaling is not None,
            ),
            spec=spec,
            provider=cluster.provider,
            deleted_with=cluster.resource,
            after=after,
        )
        out.servers[model.name] = server
        if spec.metrics is not None:
            autoscaling.pod_monitoring(model.name, ns, cfg.environment, server.selector, spec.metrics, base)
        if model.autoscaling is not None:
            autoscaling.hpa(
                model,
                ns,
                cfg.environment,
                model.name,
                (cfg.cluster_name, cfg.cluster.location),
                pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[server])),
            )
        svc = service_args(model)
        serving_ports = [
            p.name for p in spec.ports if spec.metrics is None or p.name != spec.metrics.port or p.name == "http"
        ]
        network.network_policy(
            model.name,
            ns,
            cfg.environment,
            selector("model-server", model.name),
            network.allow_rules(
                serving_ports,
                spec.metrics.port if spec.metrics else None,
                allow_from=svc.allow_from,
                load_balancer=svc.type == "LoadBalancer",
            ),
            base,
        )

    gpu_watched = [m.name for m in cfg.models if m.autoscaling and uses_dcgm(m)]
    if gpu_watched:
        autoscaling.dcgm_monitoring(
            gpu_watched,
            cfg.environment,
            pulumi.ResourceOptions(provider=cluster.provider, deleted_with=cluster.resource),
        )

    if cfg.webapp is not None:
        out.webapp = Webapp(
            "webapp",
            WebappArgs(webapp=cfg.webapp, namespace=ns, environment=cfg.environment),
            provider=cluster.provider,
            deleted_with=cluster.resource,
            after=[*in_namespace, out.servers[cfg.webapp.model], *platform.capacity_for(None)],
        )
        ws = cfg.webapp.service
        if ws.allow_from or ws.type == "LoadBalancer":
            network.network_policy(
                "fastdash",
                ns,
                cfg.environment,
                selector("webapp", "fastdash"),
                network.allow_rules(
                    ["http"], None, allow_from=ws.allow_from, load_balancer=ws.type == "LoadBalancer", clients=False
                ),
                base,
            )

    lt = cfg.load_test
    if lt is not None and lt.enabled:
        target = out.servers[lt.model]
        LoadGenerator(
            "loadtest",
            LoadGeneratorArgs(
                load_test=lt,
                server=cfg.model(lt.model).server,
                target=target.endpoint,
                namespace=ns,
                environment=cfg.environment,
            ),
            provider=cluster.provider,
            deleted_with=cluster.resource,
            after=[*in_namespace, target, *platform.capacity_for(None)],
        )
    return out
