"""LoadBalancer Services: in production, internal or opted in to a public IP by a label."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import (
    OPT_IN_LABEL,
    UNKNOWN,
    entries,
    environments_config,
    get,
    in_scope,
    k8s_environment,
    opted_in,
    resource_policy,
)

SERVICE = "kubernetes:core/v1:Service"
# GKE internal passthrough load balancer annotation (and its legacy spelling).
INTERNAL_LB_ANNOTATIONS = ("networking.gke.io/load-balancer-type", "cloud.google.com/load-balancer-type")


def check_load_balancer(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if get(props, "spec", "type") != "LoadBalancer":
        return
    env = k8s_environment(props)
    if not in_scope(env, config["environments"]):
        return
    annotations = entries(props, "metadata", "annotations")
    if annotations is UNKNOWN or any(annotations.get(a) in ("Internal", UNKNOWN) for a in INTERNAL_LB_ANNOTATIONS):
        return
    label = config["optInLabel"]
    if opted_in(props, label):
        return
    yield (
        f"a {env} Service of type LoadBalancer gets a public IP (and a load balancer outside Pulumi state); "
        f"label it {label}: 'true' to opt in, or make it internal ({INTERNAL_LB_ANNOTATIONS[0]}: Internal)"
    )


load_balancer_opt_in = resource_policy(
    name="k8s-prod-load-balancer-opt-in",
    description="A production Service of type LoadBalancer is internal or carries the opt-in label.",
    types=[SERVICE],
    check=check_load_balancer,
    level=EnforcementLevel.MANDATORY,
    config={
        "environments": environments_config(["prod"], "where external LoadBalancer Services need the opt-in label"),
        "optInLabel": {
            "type": "string",
            "default": OPT_IN_LABEL,
            "description": "Label whose value 'true' opts a Service in to an external load balancer.",
        },
    },
)

POLICIES = [load_balancer_opt_in]
