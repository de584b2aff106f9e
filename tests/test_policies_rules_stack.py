"""The stack policies (GPU budget, on-demand capacity, flow logs), each over a whole stack's
resources, run through the policy's real ``validate`` with real ``StackValidationArgs``."""

from __future__ import annotations

from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE

from policies.rules import stack
from tests.policy_harness import CLUSTER, CLUSTER_OK, OPTS, POOL, POOL_OK, changed
from tooling.policy_check import engine_view


def stack_violations(policy, resources: list[tuple[str, str, dict]], config: dict | None = None):
    found: list[tuple[str, str | None]] = []
    items = [
        PolicyResource(t, engine_view(p), f"urn:pulumi:t::p::{t}::{n}", n, OPTS, None, None, [], {})
        for t, n, p in resources
    ]
    policy.validate(StackValidationArgs(items, config or {}, {}), lambda m, urn=None: found.append((m, urn)))
    return found


def pool(name: str, *, max_nodes: int = 3, gpus: int = 1, spot: bool = False, env: str = "prod", **nc) -> tuple:
    props = changed(POOL_OK, ("autoscaling", "totalMaxNodeCount"), max_nodes)
    props = changed(props, ("nodeConfig", "guestAccelerators", 0, "count"), gpus)
    props = changed(props, ("nodeConfig", "spot"), spot)
    props = changed(props, ("nodeConfig", "resourceLabels", "environment"), env)
    props["name"] = name
    props["nodeConfig"].update(nc)
    return (POOL, name, props)


def test_budget_passes_within_and_fails_above():
    assert stack_violations(stack.gpu_budget, [pool("a", max_nodes=8), pool("b", max_nodes=4, gpus=2)]) == []
    assert stack_violations(stack.gpu_budget, [pool("a", max_nodes=8), pool("b", max_nodes=5, gpus=2)]) == [
        (
            "GPU pools of prod can scale to 18 GPUs (a 8, b 10), above its budget of 16; "
            "lower maxNodes or raise budgets.prod in the policy config",
            None,
        )
    ]


def test_budget_is_per_environment_and_configurable():
    pools = [pool("a", max_nodes=6, env="dev")]
    assert len(stack_violations(stack.gpu_budget, pools)) == 1
    assert stack_violations(stack.gpu_budget, pools, {"budgets": {"dev": 6.0}}) == []


def test_budget_counts_per_zone_maximum_times_zones():
    per_zone = pool("a")
    per_zone[2]["autoscaling"] = {"minNodeCount": 0, "maxNodeCount": 3}
    per_zone[2]["nodeLocations"] = ["us-central1-a", "us-central1-b"]
    assert stack.max_gpus(engine_view(per_zone[2])) == 6


def test_budget_skips_unknown_pools_but_reports_a_known_excess():
    unknown = pool("u")
    unknown[2]["autoscaling"]["totalMaxNodeCount"] = UNKNOWN_NUMBER_VALUE
    assert stack_violations(stack.gpu_budget, [unknown]) == []
    found = stack_violations(stack.gpu_budget, [unknown, pool("big", max_nodes=17)])
    assert [m for m, _ in found] == [
        "GPU pools of prod can scale to 17 GPUs (big 17), above its budget of 16; "
        "lower maxNodes or raise budgets.prod in the policy config"
    ]


def test_prod_spot_only_pools_fail_and_an_on_demand_pool_fixes_it():
    only_spot = [pool("t4-spot", spot=True)]
    assert stack_violations(stack.on_demand_capacity, only_spot) == [
        (
            "every nvidia-tesla-t4 pool of prod is spot (t4-spot): one reclaim can take all nvidia-tesla-t4 "
            "serving capacity at once; add an on-demand nvidia-tesla-t4 pool (spot false, minNodes 0 is enough)",
            f"urn:pulumi:t::p::{POOL}::t4-spot",
        )
    ]
    assert stack_violations(stack.on_demand_capacity, [*only_spot, pool("t4")]) == []


def test_spot_only_outside_prod_and_unknown_spot_are_fine():
    assert stack_violations(stack.on_demand_capacity, [pool("t4-spot", spot=True, env="dev")]) == []
    unknown = pool("t4-spot", spot=True)
    unknown[2]["nodeConfig"]["spot"] = UNKNOWN_BOOLEAN_VALUE
    assert stack_violations(stack.on_demand_capacity, [unknown]) == []


def test_unlabelled_pool_takes_the_environment_of_the_only_cluster():
    bare = pool("t4-spot", spot=True)
    del bare[2]["nodeConfig"]["resourceLabels"]
    dev_cluster = (CLUSTER, "c", changed(CLUSTER_OK, ("resourceLabels", "environment"), "dev"))
    assert stack_violations(stack.on_demand_capacity, [dev_cluster, bare]) == []
    assert len(stack_violations(stack.on_demand_capacity, [bare])) == 1


# Flow logs (stack policy) -----------------------------------------------------------------------

SUBNET = "gcp:compute/subnetwork:Subnetwork"
SUBNET_OK = {
    "name": "gpu-serving-prod-nodes",
    "logConfig": {"flowSampling": 0.5, "aggregationInterval": "INTERVAL_5_SEC"},
}


def test_a_prod_stack_subnetwork_with_flow_logs_passes():
    assert stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", SUBNET_OK)]) == []


def test_a_prod_stack_subnetwork_without_flow_logs_is_reported():
    (violation,) = stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", {"name": "n"})])
    assert violation[0] == (
        "subnetwork n of a prod cluster logs no flows: set logConfig with flowSampling > 0 "
        "(network.flowLogs in the stack config)"
    )


def test_zero_flow_sampling_logs_no_flows():
    sampled_none = {**SUBNET_OK, "logConfig": {"flowSampling": 0}}
    assert len(stack_violations(stack.flow_logs, [(CLUSTER, "c", CLUSTER_OK), (SUBNET, "s", sampled_none)])) == 1


def test_a_dev_stack_subnetwork_needs_no_flow_logs():
    dev = changed(CLUSTER_OK, ("resourceLabels", "environment"), "dev")
    assert stack_violations(stack.flow_logs, [(CLUSTER, "c", dev), (SUBNET, "s", {"name": "n"})]) == []
