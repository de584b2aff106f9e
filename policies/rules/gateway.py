"""Gateway API guardrails: a production Gateway gets an external load balancer only when asked.

A GKE Gateway makes GKE build a load balancer outside the Pulumi state. Its class decides whether
that load balancer has a public address: ``gke-l7-rilb`` is GKE's regional internal Application
Load Balancer (GoogleCloudPlatform/accelerated-platforms inference-ref-arch llmd
gateway-internal.tftpl.yaml); any other class is judged external unless the pack config lists it
as internal, so a class the pack does not know keeps the strict reading. An external Gateway in an
environment in scope needs the same opt-in label as an external LoadBalancer Service
(``k8s-prod-load-balancer-opt-in``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import (
    OPT_IN_LABEL,
    UNKNOWN,
    environments_config,
    get,
    in_scope,
    k8s_environment,
    opted_in,
    resource_policy,
)

GATEWAY_TYPES = (
    "kubernetes:gateway.networking.k8s.io/v1:Gateway",
    "kubernetes:gateway.networking.k8s.io/v1beta1:Gateway",
)


def check_gateway(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = k8s_environment(props)
    if not in_scope(env, config["environments"]):
        return
    gateway_class = get(props, "spec", "gatewayClassName")
    if gateway_class is UNKNOWN or gateway_class in config["internalClasses"]:
        return
    label = config["optInLabel"]
    if opted_in(props, label):
        return
    yield (
        f"a {env} Gateway of class {gateway_class} gets an external load balancer (outside Pulumi state); "
        f"label it {label}: 'true' to opt in, or use an internal class ({', '.join(config['internalClasses'])})"
    )


gateway_opt_in = resource_policy(
    name="k8s-prod-gateway-opt-in",
    description="A production Gateway uses an internal gateway class or carries the opt-in label.",
    types=GATEWAY_TYPES,
    check=check_gateway,
    level=EnforcementLevel.MANDATORY,
    config={
        "environments": environments_config(["prod"], "where external Gateways need the opt-in label"),
        "optInLabel": {
            "type": "string",
            "default": OPT_IN_LABEL,
            "description": "Label whose value 'true' opts a Gateway in to an external load balancer.",
        },
        "internalClasses": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["gke-l7-rilb"],
            "description": "Gateway classes whose load balancers have internal addresses only.",
        },
    },
)

POLICIES = [gateway_opt_in]
