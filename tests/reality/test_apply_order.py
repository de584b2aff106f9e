"""A fresh project's first ``pulumi up``: every Google Cloud and GKE precondition holds in the
resource graph each example stack (and each variant config) records."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import stack_capture
from tests.reality.captures import CAPTURES
from tests.reality.graph import Graph
from tests.reality.preconditions import PRECONDITIONS, _gateway_prerequisites
from tooling.offline import Capture


@pytest.mark.parametrize("precondition", PRECONDITIONS, ids=[p.name for p in PRECONDITIONS])
@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_precondition_holds_in_the_recorded_graph(label, get, precondition):
    capture = get()
    problems = list(precondition.check(capture, Graph(capture)))
    assert problems == [], f"{precondition.fact} ({precondition.source}):\n" + "\n".join(problems)


def test_a_pod_pulling_from_a_repository_it_does_not_wait_for_is_reported():
    capture = CAPTURES[0][1]()
    deployment = next(r for r in capture.kubernetes_objects() if r.name == "model-resnet50-deployment")
    cut = dataclasses.replace(deployment, depends_on=())
    broken = Capture(resources=[cut if r is deployment else r for r in capture.resources])
    problems = list(dict((p.name, p) for p in PRECONDITIONS)["repository-before-pulls"].check(broken, Graph(broken)))
    assert any("pulls from gpu-serving-dev-nvcr before it exists" in p for p in problems), problems


def test_a_gateway_created_before_its_proxy_only_subnet_breaks_the_precondition():
    capture = stack_capture("prod")
    unordered = Capture(
        resources=[
            dataclasses.replace(r, depends_on=tuple(d for d in r.depends_on if "proxy-only" not in d))
            for r in capture.resources
        ]
    )
    assert list(_gateway_prerequisites(unordered, Graph(unordered))) == [
        "Gateway gateway-mistral-7b-gateway is created before an ACTIVE proxy-only subnet in us-central1 exists"
    ]
