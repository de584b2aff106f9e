"""The ComputeClass objects the stacks send, against GKE's ComputeClass schema (tests/fixtures/crds/,
with its CEL rules): the example stacks' classes and a class with every capacity the config has."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import stack_capture
from tests.reality import crds
from tests.reality.captures import variant_capture
from tooling.plan_text import kubernetes_manifest

CC = "kubernetes:cloud.google.com/v1:ComputeClass"


def _objects():
    out = [pytest.param(stack, id=stack) for stack in ("staging", "prod")]
    return [*out, pytest.param("compute-class", id="every-capacity")]


def _classes(label: str) -> list[dict]:
    capture = variant_capture(label) if label == "compute-class" else stack_capture(label)
    return [kubernetes_manifest(r) for r in capture.of_type(CC)]


@pytest.mark.parametrize("label", _objects())
def test_compute_class_is_accepted_by_the_crd(label):
    classes = _classes(label)
    assert classes and [crds.errors(c) for c in classes] == [[]] * len(classes)


def test_the_every_capacity_class_sends_every_kind_of_priority():
    (cc,) = _classes("compute-class")
    kinds = [
        (p.get("reservations") or {}).get("affinity") or ("flex" if "flexStart" in p else p.get("spot"))
        for p in cc["spec"]["priorities"]
    ]
    assert kinds == ["Specific", "AnyBestEffort", False, "flex", True]


def test_the_crd_check_rejects_flex_start_on_spot():
    # The schema's own CEL rule ("Flex Start provisioning model is incompatible with Spot").
    (cc,) = _classes("compute-class")
    bad = copy.deepcopy(cc)
    bad["spec"]["priorities"][3]["spot"] = True
    assert any("incompatible with Spot" in e for e in crds.errors(bad))


def test_the_crd_check_rejects_a_field_gke_does_not_have():
    (cc,) = _classes("compute-class")
    bad = copy.deepcopy(cc)
    bad["spec"]["priorities"][0]["storage"]["bootDiskSizeGb"] = 100
    assert any("bootDiskSizeGb" in e for e in crds.errors(bad))
