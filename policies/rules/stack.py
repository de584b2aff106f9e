"""Stack policies: what only the whole set of GPU pools can tell.

A pool's environment is its ``nodeConfig.resourceLabels.environment`` (``infra/naming.py``'s
``gcp_labels``); a pool without it takes the environment of the stack's cluster when the stack has
exactly one, else it is judged as prod. Autopilot stacks have no pools: their GPU ceiling is the
HPAs' ``maxReplicas`` times GPUs per pod and the project's GPU quota, which this pack does not sum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import (
    GCP_ENV_LABEL,
    UNKNOWN,
    UNLABELLED_ENVIRONMENT,
    elements,
    environments_config,
    get,
    in_scope,
    number,
    stack_policy,
)
from .gke import CLUSTER, NODE_POOL
from .gpu import accelerators, is_gpu_pool

# A regional pool without nodeLocations runs in the cluster's zones: three by default
# (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters).
REGIONAL_DEFAULT_ZONES = 3


def _zone_count(props: Any) -> int | Any:
    zones = elements(props, "nodeLocations")
    if zones is UNKNOWN:
        return UNKNOWN
    if zones:
        return len(zones)
    location = get(props, "location")
    if location is UNKNOWN:
        return UNKNOWN
    # A zone is <region>-<letter> (us-central1-a); a region has no letter suffix.
    return 1 if isinstance(location, str) and location.count("-") >= 2 else REGIONAL_DEFAULT_ZONES


def max_gpus(props: Any) -> int | Any:
    """The most GPUs a pool can hold: max nodes (total across zones) x GPUs per node."""
    accs = accelerators(props)
    if accs is UNKNOWN:
        return UNKNOWN
    per_node = 0
    for acc in accs:
        count = number(get(acc, "count", default=0))
        if acc is UNKNOWN or not isinstance(count, int):
            return UNKNOWN
        per_node += count
    auto = get(props, "autoscaling")
    if auto is UNKNOWN:
        return UNKNOWN
    total = number(get(auto, "totalMaxNodeCount")) if auto is not None else None
    if total is None:
        # Per-zone counts: maxNodeCount with autoscaling, nodeCount without.
        per_zone = number(get(auto, "maxNodeCount") if auto is not None else get(props, "nodeCount", default=0))
        zones = _zone_count(props)
        if UNKNOWN in (per_zone, zones) or not isinstance(per_zone, int):
            return UNKNOWN
        total = per_zone * zones
    if not isinstance(total, int):
        return UNKNOWN
    return total * per_node


def _pools(resources: Sequence[Any]) -> list[tuple[Any, Any]]:
    """``(resource, environment)`` of every GPU node pool."""
    clusters = [r for r in resources if r.resource_type == CLUSTER]
    fallback = UNLABELLED_ENVIRONMENT
    if len(clusters) == 1:
        fallback = get(clusters[0].props, "resourceLabels", GCP_ENV_LABEL, default=UNLABELLED_ENVIRONMENT)
    out = []
    for r in resources:
        if r.resource_type == NODE_POOL and is_gpu_pool(r.props):
            env = get(r.props, "nodeConfig", "resourceLabels", GCP_ENV_LABEL, default=fallback)
            out.append((r, env))
    return out


def _pool_name(r: Any) -> str:
    name = get(r.props, "name")
    return name if isinstance(name, str) else r.name


def check_gpu_budget(resources: Sequence[Any], config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    budgets = {k: number(v) for k, v in (config.get("budgets") or {}).items()}
    default = number(config["defaultBudget"])
    by_env: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r, env in _pools(resources):
        gpus = max_gpus(r.props)
        if env is UNKNOWN or gpus is UNKNOWN:
            continue  # a known subtotal above the budget is still reported
        by_env[env].append((_pool_name(r), gpus))
    for env, pools in sorted(by_env.items()):
        total = sum(g for _, g in pools)
        budget = budgets.get(env, default)
        if total > budget:
            parts = ", ".join(f"{name} {gpus}" for name, gpus in pools)
            yield (
                f"GPU pools of {env} can scale to {total} GPUs ({parts}), above its budget of {budget}; "
                f"lower maxNodes or raise budgets.{env} in the policy config",
                None,
            )


def _is_spot(props: Any) -> bool | Any:
    spot, preemptible = get(props, "nodeConfig", "spot"), get(props, "nodeConfig", "preemptible")
    if UNKNOWN in (spot, preemptible):
        return UNKNOWN
    return spot is True or preemptible is True


def check_on_demand_capacity(resources: Sequence[Any], config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r, env in _pools(resources):
        if not in_scope(env, config["environments"]):
            continue
        accs = accelerators(r.props)
        if accs is UNKNOWN:
            continue
        for acc in accs:
            kind = get(acc, "type")
            if isinstance(kind, str) and kind is not UNKNOWN:
                groups[(env, kind)].append(r)
    for (env, kind), pools in sorted(groups.items()):
        spot = [_is_spot(r.props) for r in pools]
        if all(s is True for s in spot):
            names = ", ".join(_pool_name(r) for r in pools)
            yield (
                f"every {kind} pool of {env} is spot ({names}): one reclaim can take all {kind} serving "
                f"capacity at once; add an on-demand {kind} pool (spot false, minNodes 0 is enough)",
                pools[0].urn,
            )


SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
PROXY_PURPOSES = ("REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER")


def check_flow_logs(resources: Sequence[Any], config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """A stack whose cluster is in scope logs the flows of every subnetwork it creates but its
    proxy-only subnets: subnetworks carry no labels, so their environment is their stack cluster's."""
    envs = {
        get(r.props, "resourceLabels", GCP_ENV_LABEL, default=UNLABELLED_ENVIRONMENT)
        for r in resources
        if r.resource_type == CLUSTER
    }
    scoped = [e for e in envs if e is not UNKNOWN and in_scope(e, config["environments"])]
    if not scoped:
        return
    for r in resources:
        # A proxy-only subnet takes no logConfig (the provider sends none for it:
        # resource_compute_subnetwork.go expandComputeSubnetworkLogConfig); its load balancers log requests.
        if r.resource_type != SUBNETWORK or get(r.props, "purpose") in PROXY_PURPOSES:
            continue
        log = get(r.props, "logConfig")
        if log is UNKNOWN:
            continue
        sampling = number(get(log, "flowSampling")) if log else None
        if not log or (isinstance(sampling, (int, float)) and sampling <= 0):
            yield (
                f"subnetwork {get(r.props, 'name')} of a {scoped[0]} cluster logs no flows: set logConfig with "
                "flowSampling > 0 (network.flowLogs in the stack config)",
                r.urn,
            )


flow_logs = stack_policy(
    name="gcp-prod-flow-logs",
    description="The subnetworks of a production stack keep VPC flow logs, so traffic can be investigated afterwards.",
    check=check_flow_logs,
    level=EnforcementLevel.MANDATORY,
    config={"environments": environments_config(["prod"], "whose subnetworks must log flows")},
)

gpu_budget = stack_policy(
    name="gpu-stack-budget",
    description="The GPU pools of an environment can scale to at most its GPU budget (sum of maxNodes x gpusPerNode).",
    check=check_gpu_budget,
    config={
        "budgets": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "default": {"dev": 4, "staging": 8, "prod": 16},
            "description": "Most GPUs the pools of each environment may reach together.",
        },
        "defaultBudget": {
            "type": "integer",
            "minimum": 0,
            "default": 4,
            "description": "Budget of an environment not listed in budgets.",
        },
    },
)

on_demand_capacity = stack_policy(
    name="gpu-prod-on-demand-capacity",
    description="In production, spot pools are never the only pools of their GPU type.",
    check=check_on_demand_capacity,
    config={"environments": environments_config(["prod"], "that need on-demand GPU capacity")},
)

POLICIES = [gpu_budget, on_demand_capacity, flow_logs]
