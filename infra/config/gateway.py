"""``models[].gateway``: a vLLM model served through GKE's Inference Gateway (a Gateway, an
``HTTPRoute`` to an ``InferencePool`` and its endpoint picker), and the rules about it and about
what it needs from the cluster and the network (the Gateway API, a proxy-only subnet).

Facts relied on (README "Inference Gateway" gives the sources in full):

- the gateway classes are GKE's regional Application Load Balancers: ``gke-l7-rilb`` (internal;
  GoogleCloudPlatform/accelerated-platforms inference-ref-arch llmd gateway-internal.tftpl.yaml,
  4aa49436) and ``gke-l7-regional-external-managed`` (external; kubernetes-sigs/
  gateway-api-inference-extension v1.0.2 config/manifests/gateway/gke/gateway.yaml, cd03ff7d);
- both are Envoy-based and need a proxy-only subnet (purpose ``REGIONAL_MANAGED_PROXY``, role
  ``ACTIVE``) in the cluster's region and VPC ("You must enable a proxy-only subnet", GKE, Deploy
  GKE Inference Gateway, requirements; the enum values are checked against compute.v1 in
  tests/reality/test_api_payloads.py);
- Google's proxy-only subnet guide asks for at least a /26 and recommends a /23
  (https://cloud.google.com/load-balancing/docs/proxy-only-subnets; not readable offline, so not
  verified here); GKE's own example range is 10.129.0.0/23.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra import signals
from infra.config.base import Problem, _Model, _quantity_field

if TYPE_CHECKING:
    from infra.config.models import ModelConfig
    from infra.config.stack import StackConfig

GatewayClass = Literal["internal", "external"]
# config value -> GKE GatewayClass (sources in the module docstring).
GATEWAY_CLASSES: dict[str, str] = {"internal": "gke-l7-rilb", "external": "gke-l7-regional-external-managed"}
DEFAULT_PROXY_ONLY_CIDR = "10.129.0.0/23"
PROXY_ONLY_MIN_PREFIX = 26  # the smallest proxy-only subnet Google accepts is a /26


class EppResources(_Model):
    """Requests (= limits) of the endpoint picker's container. The v1.5.0 chart asks for 4 CPUs and
    8Gi (sized at high QPS, config/charts/epplib/values.yaml); 2 CPUs and 4Gi fit the stack's
    e2-standard-4 system nodes (3.92 allocatable CPUs) next to GKE's own pods."""

    cpu: str = "2"
    memory: str = "4Gi"
    ephemeral_storage: str = "1Gi"

    _check = field_validator("cpu", "memory", "ephemeral_storage")(_quantity_field)


class GatewayConfig(_Model):
    """A vLLM model behind GKE's Inference Gateway: model-aware load balancing by its endpoint picker."""

    enabled: bool | None = Field(None, description="default: on in prod, off elsewhere (vLLM models only)")
    gateway_class: GatewayClass = Field(
        "internal",
        alias="class",
        description="internal: gke-l7-rilb (regional internal Application Load Balancer); "
        "external: gke-l7-regional-external-managed (needs allowInProd in prod)",
    )
    allow_in_prod: bool = Field(False, description="the explicit flag an external gateway needs in prod")
    timeout_seconds: int = Field(
        300, ge=1, le=86_400, description="backend timeout of the load balancer (GCPBackendPolicy timeoutSec)"
    )
    epp_resources: EppResources = EppResources()


def gateway_enabled(environment: str, model: ModelConfig) -> bool:
    """Whether ``model`` is served through an Inference Gateway: vLLM only, on by default in prod."""
    if model.server != "vllm":
        return False
    g = model.gateway
    if g is None or g.enabled is None:
        return environment == "prod"
    return g.enabled


def _overlaps(cidr: str, others: dict[str, str]) -> list[str]:
    net = ipaddress.ip_network(cidr)
    return [f"{key} {value}" for key, value in others.items() if net.overlaps(ipaddress.ip_network(value))]


def _proxy_only_checks(cfg: StackConfig) -> list[Problem]:
    """What a regional gateway needs from the network: a proxy-only subnet the stack creates (create
    mode: a range disjoint from the others) or one that exists (existing network or cluster)."""
    problems: list[Problem] = []
    cl = cfg.cluster
    if cl.mode == "existing":
        if not cl.existing_gateway_api:
            problems.append(
                Problem(
                    ("cluster", "existingGatewayApi"),
                    False,
                    "a model enables its Inference Gateway, and the stack cannot change an existing cluster: "
                    "enable the Gateway API on it (gcloud container clusters update --gateway-api=standard), "
                    "run GKE 1.34.0-gke.1626000 or later (it installs the InferencePool CRD) and create a "
                    "proxy-only subnet in its region, then set existingGatewayApi: true",
                )
            )
        if cl.existing_proxy_only_cidr is None:
            problems.append(
                Problem(
                    ("cluster", "existingProxyOnlyCidr"),
                    None,
                    "a gateway's proxies connect from the proxy-only subnet of the cluster's region; give its "
                    "range so the NetworkPolicies admit it",
                )
            )
        return problems
    net = cfg.effective_network
    cidr = cfg.proxy_only_cidr
    if net.mode == "existing" and net.proxy_only_cidr is None:
        problems.append(
            Problem(
                ("network", "proxyOnlyCidr"),
                None,
                f"a gateway needs a proxy-only subnet (purpose REGIONAL_MANAGED_PROXY, role ACTIVE) in "
                f"{cfg.region} of the existing network, which its owner creates; give its range here",
            )
        )
        return problems
    if cidr is None:
        return problems
    if ipaddress.ip_network(cidr).prefixlen > PROXY_ONLY_MIN_PREFIX:
        problems.append(
            Problem(
                ("network", "proxyOnlyCidr"),
                cidr,
                f"a proxy-only subnet must be at least a /{PROXY_ONLY_MIN_PREFIX} (a /23 is recommended); "
                "give a larger range",
            )
        )
    if net.mode == "create":
        others = {
            "nodesCidr": net.nodes_cidr,
            "podsCidr": net.pods_cidr,
            "servicesCidr": net.services_cidr,
        }
        if cl.private_nodes and cl.mode == "standard":
            others["cluster.masterIpv4Cidr"] = cl.master_ipv4_cidr
        hit = _overlaps(cidr, others)
        if hit:
            problems.append(
                Problem(
                    ("network", "proxyOnlyCidr"),
                    cidr,
                    f"overlaps {', '.join(hit)}; give the proxy-only subnet a range of its own",
                )
            )
    return problems


def _gateway_checks(cfg: StackConfig) -> list[Problem]:
    """The rules of ``models[].gateway``: vLLM only, external in prod only when asked, gateway signals
    only with a gateway, and what the cluster and network must give a gateway."""
    problems: list[Problem] = []
    add = problems.append
    for i, model in enumerate(cfg.models):
        at = ("models", i, "gateway")
        g = model.gateway
        if g is not None and model.server != "vllm":
            add(
                Problem(
                    at,
                    "gateway",
                    "the Inference Gateway's endpoint picker reads vLLM's metrics (queue, KV cache); only vllm "
                    f"models take a gateway, and this one is {model.server}: remove the block",
                )
            )
            continue
        enabled = gateway_enabled(cfg.environment, model)
        external = g is not None and g.gateway_class == "external"
        if enabled and external and cfg.environment == "prod" and not g.allow_in_prod:
            add(
                Problem(
                    (*at, "class"),
                    "external",
                    "an external gateway in prod needs the explicit flag gateway.allowInProd: true (GKE "
                    "creates a public load balancer outside the stack); set it or use class: internal",
                )
            )
        for j, sig in enumerate(model.autoscaling.signals if model.autoscaling else ()):
            if signals.SIGNALS[sig.signal].source == "gateway" and not enabled:
                add(
                    Problem(
                        ("models", i, "autoscaling", "signals", j, "signal"),
                        sig.signal,
                        "is exported by the model's Inference Gateway endpoint picker, and this model has no "
                        "gateway: set gateway.enabled: true or use a server signal",
                    )
                )
    cl = cfg.cluster
    if cl.mode != "existing":
        for key in ("existing_gateway_api", "existing_proxy_only_cidr"):
            if getattr(cl, key) not in (None, False):
                add(
                    Problem(
                        ("cluster", "existingGatewayApi" if key == "existing_gateway_api" else "existingProxyOnlyCidr"),
                        getattr(cl, key),
                        "is only for mode: existing; the stack enables the Gateway API and creates the proxy-only "
                        "subnet itself",
                    )
                )
    if cfg.gateway_models:
        problems.extend(_proxy_only_checks(cfg))
    return problems
