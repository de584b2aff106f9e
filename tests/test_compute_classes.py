"""Compute classes: the config's rules, the ComputeClass object each class becomes, the pods that
select one, node auto-provisioning on Standard, capacity, cost and the plan's chain line. The
object is checked against the real ComputeClass schema in tests/reality/test_compute_classes.py."""

from __future__ import annotations

import pytest

from infra import config, platform_args
from tests.conftest import base_raw, raw_with, run_raw
from tests.test_config import NS, errors, only_line_for
from tests.test_cost import TABLE
from tooling import cost
from workloads import compute_classes

CC = "kubernetes:cloud.google.com/v1:ComputeClass"
CLUSTER = "gcp:container/cluster:Cluster"


def _class(**changes) -> dict:
    return {
        "name": "l4-serving",
        "accelerator": "nvidia-l4",
        "machineType": "g2-standard-8",
        "maxNodes": 2,
        "priorities": [{"capacity": "on-demand"}, {"capacity": "spot"}],
        **changes,
    }


def _raw(cls: dict | None = None, **model_changes) -> dict:
    model = {
        "name": "llm",
        "server": "vllm",
        "gpu": {"type": "nvidia-l4", "count": 1},
        "source": "hf://org/model",
        "computeClass": "l4-serving",
        "resources": {"cpu": "4", "memory": "16Gi"},
        **model_changes,
    }
    return raw_with(
        cluster={**base_raw()["cluster"], "location": "us-central1"},
        computeClasses=[cls or _class()],
        models=[*base_raw()["models"], model],
    )


def _priorities(*capacities: str, **extra) -> list[dict]:
    return [{"capacity": c, **extra.get(c, {})} for c in capacities]


# Config rules ---------------------------------------------------------------------------------


def test_a_chain_in_the_documented_order_is_accepted():
    chain = _priorities(
        "reservation",
        "any-reservation",
        "on-demand",
        "flex-start",
        "spot",
        reservation={"reservations": [{"name": "r1"}]},
    )
    assert config.parse(_raw(_class(priorities=chain))).compute_classes[0].chain == (
        "reservation r1",
        "any-reservation",
        "on-demand",
        "flex-start",
        "spot",
    )


def test_spot_before_on_demand_is_refused_with_the_order():
    line = only_line_for(
        _raw(_class(priorities=_priorities("spot", "on-demand"))), f"{NS}:computeClasses[0].priorities[1].capacity"
    )
    assert "comes after spot" in line and "reservation -> any-reservation -> on-demand -> flex-start -> spot" in line


def test_a_capacity_may_appear_once():
    line = only_line_for(
        _raw(_class(priorities=_priorities("on-demand", "on-demand"))), f"{NS}:computeClasses[0].priorities[1].capacity"
    )
    assert "repeats priorities[0]" in line


def test_a_reservation_priority_names_its_reservations():
    line = only_line_for(
        _raw(_class(priorities=_priorities("reservation"))), f"{NS}:computeClasses[0].priorities[0].reservations"
    )
    assert "needs the reservations to use" in line


def test_reservations_belong_to_a_reservation_priority_only():
    chain = _priorities("on-demand", **{"on-demand": {"reservations": [{"name": "r1"}]}})
    line = only_line_for(_raw(_class(priorities=chain)), f"{NS}:computeClasses[0].priorities[0].reservations")
    assert "capacity is on-demand" in line


def test_a_run_duration_belongs_to_flex_start_only():
    chain = _priorities("spot", spot={"maxRunDurationSeconds": 3600})
    line = only_line_for(_raw(_class(priorities=chain)), f"{NS}:computeClasses[0].priorities[0].maxRunDurationSeconds")
    assert "flex-start nodes only" in line


def test_flex_start_runs_a_node_seven_days_at_most():
    chain = _priorities("flex-start", **{"flex-start": {"maxRunDurationSeconds": 8 * 86_400}})
    assert any("maxRunDurationSeconds" in e for e in errors(_raw(_class(priorities=chain))))


def test_a_t4_class_may_not_ask_for_flex_start():
    t4 = _class(
        accelerator="nvidia-tesla-t4", machineType="n1-standard-8", priorities=_priorities("on-demand", "flex-start")
    )
    line = only_line_for(
        _raw(t4, gpu={"type": "nvidia-tesla-t4", "count": 1}), f"{NS}:computeClasses[0].priorities[1].capacity"
    )
    assert "accelerator-optimized" in line and "N1" in line


def test_a_class_pairs_its_gpu_with_its_machine_type():
    line = only_line_for(_raw(_class(machineType="n1-standard-8")), f"{NS}:computeClasses[0].machineType")
    assert "G2" in line


def test_a_model_names_a_declared_class():
    line = only_line_for(_raw(computeClass="h100"), f"{NS}:models[1].computeClass")
    assert "declared: l4-serving" in line


def test_a_model_on_a_class_asks_for_the_class_gpu():
    line = only_line_for(_raw(gpu={"type": "nvidia-l4", "count": 2}), f"{NS}:models[1].computeClass")
    assert "gives 1x nvidia-l4 per node, the model asks for 2x nvidia-l4" in line


def test_replicas_beyond_what_the_class_holds_are_refused():
    line = only_line_for(_raw(replicas={"min": 1, "max": 3}), f"{NS}:models[1].replicas.max")
    assert "holds at most 2 pods" in line


def test_the_class_decides_the_driver_not_the_model():
    line = only_line_for(
        _raw(gpu={"type": "nvidia-l4", "count": 1, "driverVersion": "latest"}), f"{NS}:models[1].gpu.driverVersion"
    )
    assert "the class decides the driver" in line


def test_a_standard_cluster_the_stack_does_not_manage_gets_no_classes():
    raw = _raw()
    raw["cluster"] = {"mode": "existing", "location": "us-central1-a", "name": "shared"}
    raw.pop("gpuPools")
    raw["models"] = raw["models"][1:]
    assert any(e.startswith(f"{NS}:computeClasses ") and "node auto-provisioning" in e for e in errors(raw))


def test_a_pod_too_big_for_the_class_node_names_the_class_and_the_fix():
    line = only_line_for(
        _raw(resources={"cpu": "4", "memory": "16Gi", "ephemeralStorage": "60Gi"}),
        f"{NS}:models[1].resources.ephemeralStorage",
    )
    assert "computeClasses[0]" in line and "raise computeClasses[0].diskSizeGb to at least" in line


def test_minimum_replicas_beyond_max_nodes_are_refused():
    raw = _raw(_class(maxNodes=1), replicas={"min": 2, "max": 2})
    assert any(e.startswith(f"{NS}:models[1].replicas.max") for e in errors(raw))


def test_a_model_on_a_class_is_placed_on_no_pool():
    cfg = config.parse(_raw())
    assert cfg.pools_for(cfg.model("llm")) == ()


# The ComputeClass object ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "fields"),
    [
        (
            {"capacity": "reservation", "reservations": [{"name": "r1", "project": "shared"}]},
            {"reservations": {"affinity": "Specific", "specific": [{"name": "r1", "project": "shared"}]}},
        ),
        ({"capacity": "any-reservation"}, {"reservations": {"affinity": "AnyBestEffort"}}),
        ({"capacity": "on-demand"}, {"spot": False}),
        (
            {"capacity": "flex-start", "maxRunDurationSeconds": 86_400},
            {
                "flexStart": {"enabled": True, "nodeRecycling": {"leadTimeSeconds": 3600}},
                "maxRunDurationSeconds": 86_400,
            },
        ),
        ({"capacity": "spot"}, {"spot": True}),
    ],
)
def test_each_capacity_becomes_its_priority_rule(priority, fields):
    cc = config.ComputeClassConfig.model_validate(_class(priorities=[priority]))
    rule = compute_classes.compute_class_spec(cc, autopilot=True, driver="default")["priorities"][0]
    shape = {"machineType", "gpu", "storage"}
    assert {k: v for k, v in rule.items() if k not in shape} == fields


def test_every_priority_asks_for_the_same_node_shape():
    cc = config.ComputeClassConfig.model_validate(_class(diskSizeGb=200))
    rules = compute_classes.compute_class_spec(cc, autopilot=True, driver="latest")["priorities"]
    shapes = {
        (r["machineType"], r["gpu"]["type"], r["gpu"]["count"], r["gpu"]["driverVersion"], r["storage"]["bootDiskSize"])
        for r in rules
    }
    assert shapes == {("g2-standard-8", "nvidia-l4", 1, "latest", 200)}


def test_standard_class_pools_get_the_stack_node_identity_and_image_streaming():
    capture = run_raw(_raw())
    spec = capture.one(CC, "computeclass-l4-serving").inputs["spec"]
    sa = capture.one("gcp:serviceaccount/account:Account", "cluster-nodes").inputs
    email = f"{sa['accountId']}@{sa['project']}.iam.gserviceaccount.com"
    assert spec["nodePoolConfig"] == {"imageStreaming": {"enabled": True}, "serviceAccount": email}


def test_autopilot_manages_the_class_pools_itself():
    raw = _raw()
    raw["cluster"] = {"mode": "autopilot", "location": "us-central1", "deletionProtection": False}
    raw["gpuPools"] = []
    raw["models"] = raw["models"][1:]
    assert "nodePoolConfig" not in run_raw(raw).one(CC, "computeclass-l4-serving").inputs["spec"]


def test_a_vllm_class_runs_the_driver_its_image_needs():
    capture = run_raw(_raw())
    annotation = capture.one(CC, "computeclass-l4-serving").inputs["metadata"]["annotations"][
        "gke-gpu-serving/gpu-driver"
    ]
    assert annotation.startswith("latest: llm: vllm/vllm-openai:v0.11.0 is built on CUDA 12.8")


# Node auto-provisioning -----------------------------------------------------------------------


def test_standard_with_classes_turns_on_node_auto_provisioning_with_every_pool_counted():
    # system e2-standard-4 x3 (default maxNodes) + t4 pool n1-standard-8 x2 + class g2-standard-8 x2
    cfg = config.parse(_raw())
    assert platform_args.autoprovisioning_limits(cfg) == (
        ("cpu", 4 * 3 + 8 * 2 + 8 * 2),
        ("memory", 16 * 3 + 30 * 2 + 32 * 2),
        ("nvidia-l4", 2),
        ("nvidia-tesla-t4", 2),
    )


def test_the_cluster_sends_the_limits_with_auto_provisioning_on():
    autoscaling = run_raw(_raw()).one(CLUSTER, "cluster").inputs["clusterAutoscaling"]
    limits = {r["resourceType"]: r["maximum"] for r in autoscaling["resourceLimits"]}
    assert (autoscaling["enabled"], limits["nvidia-l4"]) == (True, 2)


def test_without_classes_node_auto_provisioning_stays_off():
    assert "clusterAutoscaling" not in run_raw(base_raw()).one(CLUSTER, "cluster").inputs


# Cost and plan --------------------------------------------------------------------------------


def test_a_class_costs_its_cheapest_priority_at_minimum_and_its_dearest_at_maximum():
    # g2-standard-8 + L4 in the test table: on-demand 0.30 + 0.60 = 0.90, spot 0.12 + 0.25 = 0.37.
    line = next(
        line
        for line in cost.estimate(config.parse(_raw(replicas={"min": 1, "max": 2})), TABLE).lines
        if line.item == "compute class l4-serving"
    )
    assert (line.hourly_min, line.hourly_max) == (pytest.approx(0.37), pytest.approx(1.80))


def test_flex_start_without_a_price_is_reported_unpriced():
    raw = _raw(_class(priorities=_priorities("on-demand", "flex-start")))
    assert any("flex-start price of g2-standard-8" in u for u in cost.estimate(config.parse(raw), TABLE).unpriced)


def test_the_plan_names_each_model_chain_in_order():
    from infra import capacity

    lines = capacity.chain_lines(
        config.parse(_raw(_class(priorities=_priorities("any-reservation", "on-demand", "spot"))))
    )
    assert (
        "  llm: compute class l4-serving (g2-standard-8 + 1x nvidia-l4): any-reservation > on-demand > spot; none available: waits; moves pods back up the chain when it can"
        in lines
    )
