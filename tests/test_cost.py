"""The cost estimate: pure functions of a config and a price table, checked against hand sums.

Most tests use a small synthetic table with round numbers, so each expected figure can be
worked out on paper; the last ones pin the example stacks against the real, dated table.
"""

from __future__ import annotations

import datetime as dt

import pytest

from infra import config
from tests.conftest import base_raw, raw_with
from tooling import cost, offline
from tooling.cost import PriceTable
from tooling.plan_diff import stack_config_of

TABLE = PriceTable.model_validate(
    {
        "snapshot_date": "2026-01-01",
        "region": "us-central1",
        "currency": "USD",
        "sources": [{"covers": "all", "name": "hand-made test table", "url": "https://example.invalid"}],
        "cluster_fee_per_hour": 0.10,
        "free_tier_monthly_credit": 74.40,
        "machines": {
            "e2-standard-4": {"on_demand": 0.20, "spot": 0.05},
            "n1-standard-8": {"on_demand": 0.50, "spot": 0.10},
            "g2-standard-4": {"on_demand": 0.15, "spot": 0.06},
            "g2-standard-8": {"on_demand": 0.30, "spot": 0.12},
        },
        "accelerators": {
            "nvidia-tesla-t4": {"on_demand": 0.40, "spot": 0.20},
            "nvidia-l4": {"on_demand": 0.60, "spot": 0.25},
        },
    }
)


def _standard(**pool_changes) -> config.StackConfig:
    pool = {**base_raw()["gpuPools"][0], **pool_changes}
    cluster = {**base_raw()["cluster"], "systemPool": {"machineType": "e2-standard-4", "minNodes": 1, "maxNodes": 2}}
    return config.parse(raw_with(cluster=cluster, gpuPools=[pool]))


def _autopilot(**model_changes) -> config.StackConfig:
    model = {
        "name": "llm",
        "server": "vllm",
        "gpu": {"type": "nvidia-l4", "count": 1},
        "source": "hf://org/model",
        "replicas": {"min": 1, "max": 3},
        "resources": {"cpu": "4", "memory": "16Gi"},
        **model_changes,
    }
    return config.parse(
        raw_with(
            cluster={"mode": "autopilot", "location": "us-central1", "deletionProtection": False},
            gpuPools=[],
            models=[model],
            storage={"buckets": []},
        )
    )


def test_price_table_names_its_date_and_sources():
    table = cost.load_prices()
    assert table.snapshot_date <= dt.date.today()
    assert table.sources and all(s.name and s.url.startswith("https://") for s in table.sources)


def test_gpu_node_is_machine_plus_each_gpu():
    pool = _standard(gpusPerNode=2, machineType="n1-standard-8").gpu_pools[0]
    assert cost.gpu_node_hourly(pool, TABLE) == pytest.approx(0.50 + 2 * 0.40)


def test_spot_pool_uses_spot_rates_for_machine_and_gpu():
    pool = _standard(spot=True).gpu_pools[0]
    assert cost.gpu_node_hourly(pool, TABLE) == pytest.approx(0.10 + 0.20)


def test_standard_stack_min_and_max_are_hand_sums():
    # fee 0.10 + system 1..2 x 0.20 + GPU pool: minNodes 0, but its one model (1 replica, 1 T4)
    # needs 1 node at both ends: 1 x (0.50 + 0.40)
    est = cost.estimate(_standard(), TABLE)
    assert (est.hourly_min, est.hourly_max) == pytest.approx((0.10 + 0.20 + 0.90, 0.10 + 0.40 + 0.90))
    assert (est.monthly_min, est.monthly_max) == pytest.approx((876.00, 1022.00))


def test_pool_minimum_counts_the_nodes_the_minimum_replicas_need():
    # two 1-GPU models of 2 replicas each on a 1-GPU pool: 4 nodes at minNodes 0
    raw = raw_with(
        gpuPools=[{**base_raw()["gpuPools"][0], "maxNodes": 4}],
        models=[{**base_raw()["models"][0], "name": name, "replicas": {"min": 2, "max": 2}} for name in ("a", "b")],
    )
    (line,) = [x for x in cost.estimate(config.parse(raw), TABLE).lines if x.item == "GPU pool t4"]
    assert line.hourly_min == pytest.approx(4 * 0.90)


def test_regional_pool_counts_are_totals_not_per_zone():
    zonal = cost.estimate(_standard(), TABLE)
    regional = cost.estimate(
        config.parse(
            raw_with(
                cluster={"mode": "standard", "location": "us-central1", "deletionProtection": False},
                gpuPools=[{**base_raw()["gpuPools"][0], "nodeLocations": ["us-central1-a", "us-central1-b"]}],
            )
        ),
        TABLE,
    )
    pool_line = next(line for line in regional.lines if line.item == "GPU pool t4")
    assert pool_line.hourly_max == pytest.approx(1 * 0.90)
    assert [x.hourly_max for x in zonal.lines if x.item == "GPU pool t4"] == [pool_line.hourly_max]


def test_autopilot_prices_each_replica_as_the_node_it_gets():
    # Node-based billing: 4 vCPU + 16Gi does not fit g2-standard-4 (16 GB, 13.3 GiB allocatable),
    # so each replica is a g2-standard-8 (0.30) + 1 L4 (0.60) = 0.90; replicas 1..3
    lines = cost.autopilot_models(_autopilot(), TABLE)
    assert [(x.hourly_min, x.hourly_max) for x in lines] == [pytest.approx((0.90, 2.70))]


def test_autopilot_picks_the_cheapest_shape_that_holds_the_pod():
    small = _autopilot(resources={"cpu": "2", "memory": "8Gi"}).models[0]
    assert cost.autopilot_node(small, TABLE) == "g2-standard-4"


def test_autopilot_stack_has_fee_and_no_pools():
    est = cost.estimate(_autopilot(), TABLE)
    assert [x.item for x in est.lines] == ["GKE cluster fee", "Autopilot nodes llm"]


def test_existing_standard_cluster_costs_nothing_here():
    cfg = config.parse(
        raw_with(
            cluster={"mode": "existing", "location": "us-central1-a", "name": "theirs"},
            gpuPools=[],
            models=[],
        )
    )
    est = cost.estimate(cfg, TABLE)
    assert (est.lines, est.monthly_max) == ((), 0)


def test_existing_autopilot_cluster_prices_pods_but_no_fee():
    cfg = config.parse(
        raw_with(
            cluster={"mode": "existing", "location": "us-central1", "name": "theirs", "existingAutopilot": True},
            gpuPools=[],
            models=[_autopilot().models[0].model_dump(by_alias=True, exclude_none=True)],
            storage={"buckets": []},
            registry={"nodeServiceAccount": "theirs-nodes@my-project.iam.gserviceaccount.com"},
        )
    )
    assert [x.item for x in cost.estimate(cfg, TABLE).lines] == ["Autopilot nodes llm"]


def test_machine_without_a_price_is_listed_and_left_out_of_totals():
    est = cost.estimate(_standard(machineType="n1-standard-16"), TABLE)
    assert est.unpriced == ("machine type n1-standard-16 (add it to tooling/data/prices.yaml)",)
    assert est.hourly_max == pytest.approx(0.10 + 0.40)


def test_other_region_is_not_priced_with_this_table():
    cfg = config.parse(
        raw_with(
            region="europe-west4",
            cluster={"mode": "standard", "location": "europe-west4-b", "deletionProtection": False},
        )
    )
    est = cost.estimate(cfg, TABLE)
    assert (est.lines, est.complete) == ((), False)


def test_signed_money_shows_direction():
    assert [cost.signed_money(v) for v in (277.4, -3.5, 0.001)] == ["+$277.40", "-$3.50", "$0.00"]


# Expected figures, worked by hand from tooling/data/prices.yaml (2026-11-22, us-central1). GPU
# pools count the nodes their models' replicas need (infra/capacity.py; 1 GPU per pod and node):
#   dev:     t4 spot node 0.0963+0.14 = 0.2363; t5-small 1..2 + resnet50 1..2 -> 2..4 nodes
#            min 0.10 + 0.13402 + 2x0.2363 = 0.70662/h;  max 0.10 + 2x0.13402 + 4x0.2363 = 1.31324/h
#   staging: node-based Autopilot: t5-small (3 vCPU, 16Gi) on g2-standard-8 0.29358+0.56004 = 0.85362,
#            x1..3; mistral-7b on compute class l4-serving (g2-standard-12, on-demand > spot): 1..2
#            nodes, on-demand 0.44038+0.56004 = 1.00042, spot 0.17621+0.2231 = 0.39931
#            min 0.10 + 0.85362 + 1x0.39931 (cheapest priority) = 1.35293/h
#            max 0.10 + 3x0.85362 + 2x1.00042 (dearest priority) = 4.66170/h
#   prod:    t4 (0.38+0.35) 2..6 nodes (t5-small 1..3, resnet50 1..3); l4 (0.29358+0.56004) 1..2
#            (flan-t5 1..2); compute class l4-serving (g2-standard-8, any-reservation > on-demand >
#            flex-start > spot): mistral-7b 1..3 nodes, 0.85362 on-demand (reservation and G2
#            flex-start at the on-demand rate), spot 0.11747+0.2231 = 0.34057
#            min 0.10 + 0.13402 + 2x0.73 + 1x0.85362 + 1x0.34057 = 2.88821/h
#            max 0.10 + 4x0.13402 + 6x0.73 + 2x0.85362 + 3x0.85362 = 9.28418/h
@pytest.mark.parametrize(
    ("stack", "monthly_min", "monthly_max"),
    [("dev", 515.83, 958.67), ("staging", 987.64, 3403.04), ("prod", 2108.39, 6777.45)],
)
def test_example_stacks_cost_what_the_table_says(stack, monthly_min, monthly_max):
    config_map, _ = offline.read_stack_config(stack)
    est = cost.estimate(stack_config_of(config_map))
    assert (est.monthly_min, est.monthly_max) == (monthly_min, monthly_max)


def test_the_estimate_says_it_leaves_artifact_registry_out():
    assert any("Artifact Registry" in note for note in cost.estimate(_standard(), TABLE).notes)
