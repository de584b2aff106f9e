"""GKE Inference Gateway per vLLM model: an ``InferencePool`` over the model's pods with its endpoint
picker (:mod:`workloads.epp`), GKE's ``HealthCheckPolicy`` and ``GCPBackendPolicy`` on the pool, a
regional ``Gateway`` and an ``HTTPRoute`` from it to the pool. The load balancer sends each request
to the replica the endpoint picker chooses by queue depth, KV-cache use and prefix-cache affinity,
instead of round robin.

- ``InferencePool`` (``inference.networking.k8s.io/v1``): the v1.5.0 chart's ``inferencepool.yaml``
  (target port 8000, ``appProtocol: http``, ``failureMode: FailOpen``: requests still reach a
  replica while the picker is down). The CRD is not installed here: GKE 1.34.0-gke.1626000 and
  later installs and manages it (README "Inference Gateway" gives the sources).
- ``HealthCheckPolicy`` / ``GCPBackendPolicy`` (``networking.gke.io/v1``): the chart's ``gke.yaml``:
  HTTP ``/health`` on 8000 every 2 s, a backend timeout (300 s by default) and request logging.
- ``Gateway`` / ``HTTPRoute`` (``gateway.networking.k8s.io/v1``): one HTTP listener on 80 and one
  rule ``PathPrefix /`` to the pool (v1.0.2 config/manifests/gateway/gke/gateway.yaml, httproute.yaml).

GKE creates a load balancer, forwarding rule, backend services and NEGs for these outside the
Pulumi state, so the Gateway, the route, the pool and its policies are **not** ``deleted_with`` the
cluster: ``pulumi destroy`` deletes them (and GKE its load balancer) while the cluster, and the
proxy-only subnet the Gateway waits for, still exist. The Gateway carries the ``pulumi.com/waitFor``
annotation, so ``pulumi up`` waits for GKE to give it an address (pulumi-kubernetes 4.18.0 added
the annotation, 4.18.4 made it take precedence: pulumi/pulumi-kubernetes#3191, #3352; the await
code is in the provider binary, not in the Python SDK this repository pins, so it is not verified
here). Its status is an output, which the stack exports per model.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.config import ComponentArgs
from infra.config.gateway import GATEWAY_CLASSES
from workloads import epp
from workloads.context import Context
from workloads.serving import COMPONENT as SERVER_COMPONENT
from workloads.serving import LB_OPT_IN_LABEL, selector

GATEWAY_API = "gateway.networking.k8s.io/v1"
POOL_API = f"{epp.POOL_GROUP}/v1"
GKE_POLICY_API = "networking.gke.io/v1"
SERVING_PORT = 8000  # vLLM's (workloads/vllm.py)
LISTENER_PORT = 80
WAIT_FOR = "pulumi.com/waitFor"
ADDRESS_PATH = "jsonpath={.status.addresses[0].value}"
# GKE documents no time for a gateway's load balancer; this is the stack's budget for it.
GATEWAY_TIMEOUT = "20m"
HEALTH_CHECK_SECONDS = 2  # the chart's: faster switch-over during EPP rollouts


class GatewayObject(k8s.apiextensions.CustomResource):
    """A custom resource whose ``status`` is an output (``CustomResource`` exposes only its inputs)."""

    def _internal_init(self, resource_name, api_version, kind, opts=None, metadata=None, spec=None, __props__=None):
        props = k8s.apiextensions.CustomResourceArgs.__new__(k8s.apiextensions.CustomResourceArgs)
        props.__dict__.update(api_version=api_version, kind=kind, metadata=metadata, spec=spec, status=None)
        pulumi.CustomResource.__init__(self, f"kubernetes:{api_version}:{kind}", resource_name, props, opts)

    @property
    def status(self) -> pulumi.Output[Any]:
        return pulumi.get(self, "status")


def first_address(status: Any) -> str | None:
    """The Gateway's first address (``status.addresses[0].value``), or None before GKE assigns one."""
    addresses = (status or {}).get("addresses") or []
    return addresses[0].get("value") if addresses else None


def pool_spec(model: str) -> dict:
    return {
        "targetPorts": [{"number": SERVING_PORT}],
        "appProtocol": "http",
        "selector": {"matchLabels": selector(SERVER_COMPONENT, model)},
        "endpointPickerRef": {
            "name": epp.epp_name(model),
            "port": {"number": epp.EXT_PROC_PORT},
            "failureMode": "FailOpen",
        },
    }


def _pool_ref(model: str) -> dict:
    return {"group": epp.POOL_GROUP, "kind": "InferencePool", "name": model}


def health_check_spec(model: str) -> dict:
    return {
        "targetRef": _pool_ref(model),
        "default": {
            "timeoutSec": HEALTH_CHECK_SECONDS,
            "checkIntervalSec": HEALTH_CHECK_SECONDS,
            "config": {
                "type": "HTTP",
                # Explicit: the CRD's CEL rules read portSpecification (gke-gateway-api fc40d606).
                "httpHealthCheck": {
                    "portSpecification": "USE_FIXED_PORT",
                    "port": SERVING_PORT,
                    "requestPath": "/health",
                },
            },
        },
    }


def backend_policy_spec(model: str, timeout_seconds: int) -> dict:
    return {"targetRef": _pool_ref(model), "default": {"timeoutSec": timeout_seconds, "logging": {"enabled": True}}}


def gateway_name(model: str) -> str:
    return f"{model}-gateway"


def gateway_spec(gateway_class: str) -> dict:
    return {
        "gatewayClassName": GATEWAY_CLASSES[gateway_class],
        "listeners": [{"name": "http", "port": LISTENER_PORT, "protocol": "HTTP"}],
    }


def route_spec(model: str) -> dict:
    return {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway_name(model)}],
        "rules": [{"backendRefs": [_pool_ref(model)], "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
    }


class InferenceGatewayArgs(ComponentArgs):
    model: str
    namespace: str
    environment: str
    autopilot: bool
    gateway_class: str = "internal"
    allow_in_prod: bool = False
    timeout_seconds: int = 300
    epp_cpu: str = "2"
    epp_memory: str = "4Gi"
    epp_ephemeral_storage: str = "1Gi"


def gateway_labels(a: InferenceGatewayArgs) -> dict[str, str]:
    """An external gateway opted in for prod carries the label the policy pack checks, as an external
    LoadBalancer Service does (workloads/serving.py)."""
    labels = naming.k8s_labels(a.environment, "gateway", a.model)
    if a.gateway_class == "external" and a.allow_in_prod:
        labels[LB_OPT_IN_LABEL] = "true"
    return labels


class InferenceGateway(pulumi.ComponentResource):
    """The pool, its endpoint picker, GKE's policies, the Gateway and its route, for one model."""

    gateway: GatewayObject
    address: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        args: InferenceGatewayArgs,
        *,
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None,
        after: list[pulumi.Resource],
        proxy_only_subnet: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``after``: what everything here waits for (the namespace, the model's server);
        ``proxy_only_subnet``: what the Gateway's load balancer needs first (and outlives it on destroy)."""
        super().__init__("gke-gpu-serving:workloads:InferenceGateway", name, None, opts)
        m, ns = args.model, args.namespace
        inside = pulumi.ResourceOptions(parent=self, provider=provider, deleted_with=deleted_with, depends_on=after)
        self.epp = epp.EndpointPicker(
            epp.EppArgs(
                pool=m,
                namespace=ns,
                environment=args.environment,
                autopilot=args.autopilot,
                cpu=args.epp_cpu,
                memory=args.epp_memory,
                ephemeral_storage=args.epp_ephemeral_storage,
            ),
            parent=self,
            opts=inside,
        )
        # Not deleted_with the cluster: GKE builds load-balancer pieces from these.
        outside = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=after)

        def meta(obj: str, labels=None, annotations=None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj,
                namespace=ns,
                labels=labels or naming.k8s_labels(args.environment, "gateway", m),
                annotations=annotations,
            )

        def custom(res: str, kind: str, api: str, obj: str, spec: dict, deps: list, **kw) -> GatewayObject:
            return GatewayObject(
                res,
                api_version=api,
                kind=kind,
                metadata=kw.pop("metadata", None) or meta(obj),
                spec=spec,
                opts=pulumi.ResourceOptions.merge(outside, pulumi.ResourceOptions(depends_on=deps, **kw)),
            )

        pool = custom(f"{name}-pool", "InferencePool", POOL_API, m, pool_spec(m), [self.epp.service])
        custom(f"{name}-healthcheck", "HealthCheckPolicy", GKE_POLICY_API, m, health_check_spec(m), [pool])
        custom(
            f"{name}-backend-policy",
            "GCPBackendPolicy",
            GKE_POLICY_API,
            m,
            backend_policy_spec(m, args.timeout_seconds),
            [pool],
        )
        self.gateway = custom(
            f"{name}-gateway",
            "Gateway",
            GATEWAY_API,
            gateway_name(m),
            gateway_spec(args.gateway_class),
            [proxy_only_subnet] if proxy_only_subnet is not None else [],
            metadata=meta(gateway_name(m), gateway_labels(args), {WAIT_FOR: ADDRESS_PATH}),
            custom_timeouts=pulumi.CustomTimeouts(create=GATEWAY_TIMEOUT, update=GATEWAY_TIMEOUT),
        )
        custom(f"{name}-route", "HTTPRoute", GATEWAY_API, m, route_spec(m), [self.gateway, pool])
        self.address = self.gateway.status.apply(first_address)
        self.register_outputs({"address": self.address})


def gateway_args(ctx: Context, model) -> InferenceGatewayArgs:
    g = model.gateway
    res = g.epp_resources if g is not None else None
    return InferenceGatewayArgs(
        model=model.name,
        namespace=ctx.namespace,
        environment=ctx.cfg.environment,
        autopilot=ctx.cfg.autopilot,
        gateway_class=g.gateway_class if g is not None else "internal",
        allow_in_prod=g.allow_in_prod if g is not None else False,
        timeout_seconds=g.timeout_seconds if g is not None else 300,
        **(
            {"epp_cpu": res.cpu, "epp_memory": res.memory, "epp_ephemeral_storage": res.ephemeral_storage}
            if res
            else {}
        ),
    )


def inference_gateways(ctx: Context) -> dict[str, InferenceGateway]:
    """One :class:`InferenceGateway` per model the config serves through one."""
    network = ctx.platform.network
    subnet = network.proxy_only_subnet if network is not None else None
    return {
        model.name: InferenceGateway(
            f"gateway-{model.name}",
            gateway_args(ctx, model),
            provider=ctx.provider,
            deleted_with=ctx.deleted_with,
            # Not after the server: the load balancer is built while the model loads. After Cloud NAT
            # on private nodes: the picker's image is on registry.k8s.io, outside Google.
            after=[*ctx.in_namespace, *ctx.platform.capacity_for(None)],
            proxy_only_subnet=subnet,
        )
        for model in ctx.cfg.gateway_models
    }
