"""The pods of the example stacks (and of a stack running the load generator) as hardened as each
image allows: no service account token where nothing calls the Kubernetes API."""

from __future__ import annotations

from functools import cache

import pytest

from infra import metrics
from tests.conftest import STACKS, raw_with, run_raw, stack_capture

WORKLOAD_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job")
ADAPTER = f"{metrics.NAMESPACE}/{metrics.KSA}"


@cache
def load_test_capture():
    return run_raw(raw_with(loadTest={"enabled": True, "model": "t5-small"}))


def captures():
    return [*((s, stack_capture(s)) for s in STACKS), ("dev+loadTest", load_test_capture())]


def pods():
    """(id, pod spec) of every workload the program renders."""
    out = []
    for label, capture in captures():
        for r in capture.resources:
            if r.type in WORKLOAD_TYPES:
                meta = r.inputs["metadata"]
                out.append(
                    pytest.param(r.inputs["spec"]["template"]["spec"], id=f"{label}:{meta['namespace']}/{meta['name']}")
                )
    return out


def test_the_load_generator_is_among_the_pods_checked():
    assert any("loadtest" in p.id for p in pods())


@pytest.mark.parametrize("spec", pods())
def test_only_the_metrics_adapter_mounts_a_service_account_token(spec, request):
    workload = request.node.callspec.id.split(":", 1)[1]
    assert (spec.get("automountServiceAccountToken") is not False) == (workload == ADAPTER)
