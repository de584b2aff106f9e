"""NetworkPolicies of the serving namespace: deny all ingress, then allow exactly who must reach
each server.

- the web front end and the load generator (same namespace, by component label) -> serving ports;
- Managed Prometheus collectors (namespace ``gmp-system`` on Standard, ``gke-gmp-system`` on
  Autopilot) -> the metrics port only;
- the CIDRs a NodePort/LoadBalancer Service is opened to (``service.allowFrom``) and, for a
  LoadBalancer, Google's health-check ranges -> the Service's ports;
- a model behind an Inference Gateway: the gateway's proxies (they connect from the region's
  proxy-only subnet) and Google's health checks -> the serving port, and its endpoint picker (which
  scrapes vLLM's /metrics on that port) -> the serving port; the picker itself admits the proxies
  and health checks on its ext-proc port and Managed Prometheus on its metrics port, nothing else.

Kubelet probes need no rule: traffic from the pod's own node is always allowed by NetworkPolicy
(Kubernetes docs, "Network Policies": "traffic to and from the node where a Pod is running is
always allowed"). Dataplane V2 enforces these policies on GKE.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from workloads import epp
from workloads.context import Context
from workloads.serving import ModelServer, selector, service_args

GMP_NAMESPACES = ("gmp-system", "gke-gmp-system")
CLIENT_COMPONENTS = ("webapp", "load-generator")
# Google Cloud load balancer health-check source ranges (cloud.google.com/load-balancing/docs/health-checks).
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")


def _label_in(key: str, values: tuple[str, ...]) -> k8s.meta.v1.LabelSelectorArgs:
    """A selector matching objects whose ``key`` label is one of ``values``."""
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[k8s.meta.v1.LabelSelectorRequirementArgs(key=key, operator="In", values=list(values))]
    )


def _ports(names: list[str]) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(port=n, protocol="TCP") for n in names]


def default_deny() -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
    )


def allow_rules(
    serving_ports: list[str],
    metrics_port: str | None,
    allow_from: tuple[str, ...] = (),
    load_balancer: bool = False,
    clients: bool = True,
) -> list[k8s.networking.v1.NetworkPolicyIngressRuleArgs]:
    """The ingress rules of one workload (pure; see the module docstring for who gets what)."""
    rules = []
    if clients:
        rules.append(
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=_label_in("app.kubernetes.io/component", CLIENT_COMPONENTS)
                    )
                ],
                ports=_ports(serving_ports),
            )
        )
    if metrics_port:
        rules.append(
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        namespace_selector=_label_in("kubernetes.io/metadata.name", GMP_NAMESPACES)
                    )
                ],
                ports=_ports([metrics_port]),
            )
        )
    cidrs = list(allow_from) + (list(HEALTH_CHECK_RANGES) if load_balancer else [])
    if cidrs:
        rules.append(
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c))
                    for c in cidrs
                ],
                ports=_ports(serving_ports),
            )
        )
    return rules


def _from_cidrs(cidrs: list[str], ports: list[str]) -> k8s.networking.v1.NetworkPolicyIngressRuleArgs:
    return k8s.networking.v1.NetworkPolicyIngressRuleArgs(
        from_=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)) for c in cidrs],
        ports=_ports(ports),
    )


def gateway_rules(proxy_only_cidr: str, pool: str, serving_ports: list[str]) -> list:
    """What a model behind an Inference Gateway admits besides its own rules: the gateway's proxies and
    the load balancer's health checks, and its endpoint picker scraping the server's metrics."""
    return [
        _from_cidrs([proxy_only_cidr, *HEALTH_CHECK_RANGES], serving_ports),
        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=[
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=epp.selector(pool))
                )
            ],
            ports=_ports(serving_ports),
        ),
    ]


def epp_rules(proxy_only_cidr: str) -> list[k8s.networking.v1.NetworkPolicyIngressRuleArgs]:
    """The endpoint picker: the proxies' ext-proc calls and health checks, and Managed Prometheus."""
    return [_from_cidrs([proxy_only_cidr, *HEALTH_CHECK_RANGES], ["grpc"]), *allow_rules([], "metrics", clients=False)]


def network_policy(
    name: str,
    namespace: str,
    environment: str,
    match: dict[str, str],
    rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgs],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    return k8s.networking.v1.NetworkPolicy(
        f"netpol-{name}",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"allow-{name}", namespace=namespace, labels=naming.k8s_labels(environment, "network-policy", name)
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(match)),
            policy_types=["Ingress"],
            ingress=rules,
        ),
        opts=opts,
    )


def policies(ctx: Context, servers: dict[str, ModelServer]) -> None:
    """The namespace's policies: deny all ingress, then one allow policy per model server and
    one for the web front end when something outside the namespace calls it."""
    cfg, ns, env = ctx.cfg, ctx.namespace, ctx.cfg.environment
    k8s.networking.v1.NetworkPolicy(
        "netpol-default-deny",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="default-deny-ingress",
            namespace=ns,
            labels=naming.k8s_labels(env, "network-policy", "default-deny-ingress"),
        ),
        spec=default_deny(),
        opts=ctx.base,
    )
    behind_gateway = {m.name for m in cfg.gateway_models}
    for model in cfg.models:
        spec = servers[model.name].spec
        svc = service_args(model)
        serving_ports = [
            p.name for p in spec.ports if spec.metrics is None or p.name != spec.metrics.port or p.name == "http"
        ]
        rules = allow_rules(
            serving_ports,
            spec.metrics.port if spec.metrics else None,
            allow_from=svc.allow_from,
            load_balancer=svc.type == "LoadBalancer",
        )
        if model.name in behind_gateway and cfg.proxy_only_cidr:
            rules += gateway_rules(cfg.proxy_only_cidr, model.name, serving_ports)
            network_policy(
                epp.epp_name(model.name), ns, env, epp.selector(model.name), epp_rules(cfg.proxy_only_cidr), ctx.base
            )
        network_policy(model.name, ns, env, selector("model-server", model.name), rules, ctx.base)
    ws = cfg.webapp.service if cfg.webapp is not None else None
    if ws is not None and (ws.allow_from or ws.type == "LoadBalancer"):
        network_policy(
            "fastdash",
            ns,
            env,
            selector("webapp", "fastdash"),
            allow_rules(
                ["http"], None, allow_from=ws.allow_from, load_balancer=ws.type == "LoadBalancer", clients=False
            ),
            ctx.base,
        )
