"""Accelerator facts: machine pairing, GPU counts, where each GPU is offered."""

import pytest

from infra import catalog


@pytest.mark.parametrize("machine", ["n1-standard-4", "n1-standard-8", "n1-highmem-16"])
def test_t4_pairs_with_n1(machine):
    assert catalog.check_pairing(catalog.T4, machine, 1) is None


def test_t4_on_g2_is_rejected_on_the_machine_type():
    field, why = catalog.check_pairing(catalog.T4, "g2-standard-8", 1)
    assert field == "machineType" and "N1" in why


def test_l4_on_n1_is_rejected_on_the_machine_type():
    field, why = catalog.check_pairing(catalog.L4, "n1-standard-8", 1)
    assert field == "machineType" and "G2" in why


@pytest.mark.parametrize(("machine", "count"), sorted(catalog.G2_GPUS.items()))
def test_l4_count_is_the_one_the_g2_shape_carries(machine, count):
    assert catalog.check_pairing(catalog.L4, machine, count) is None


def test_l4_with_a_count_the_shape_does_not_carry_is_rejected_on_the_count():
    field, why = catalog.check_pairing(catalog.L4, "g2-standard-24", 1)
    assert field == "gpusPerNode" and "exactly 2" in why


def test_t4_count_3_is_rejected():
    field, _ = catalog.check_pairing(catalog.T4, "n1-standard-8", 3)
    assert field == "gpusPerNode"


def test_one_t4_cannot_ride_an_n1_with_more_than_48_vcpus():
    field, why = catalog.check_pairing(catalog.T4, "n1-standard-64", 1)
    assert field == "machineType" and "48" in why


def test_four_t4_may_ride_n1_standard_96():
    assert catalog.check_pairing(catalog.T4, "n1-standard-96", 4) is None


def test_zone_and_region_parsing():
    assert catalog.is_zone("us-central1-a") and not catalog.is_zone("us-central1")
    assert catalog.region_of("europe-west4-b") == "europe-west4"


def test_offered_in_zone_and_region():
    t4 = catalog.ACCELERATORS[catalog.T4]
    assert t4.offered_in("us-central1-a") and t4.offered_in("us-central1")
    assert not t4.offered_in("us-central1-d")


def test_l4_not_offered_in_a_region_without_it():
    assert not catalog.ACCELERATORS[catalog.L4].offered_in("us-west2")


def test_zones_in_region_are_full_zone_names():
    assert catalog.ACCELERATORS[catalog.L4].zones_in("us-central1") == (
        "us-central1-a",
        "us-central1-b",
        "us-central1-c",
    )


def test_autopilot_limits_cover_every_count_the_accelerator_offers():
    for acc in catalog.ACCELERATORS.values():
        assert set(acc.autopilot) == set(acc.counts)
