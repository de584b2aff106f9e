"""What each server's pod must carry to serve as its image really runs (issue 14's findings);
the integration tests in tests/integration run the real servers on these same objects."""

from __future__ import annotations

import pytest

from tests.conftest import stack_capture

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def container(stack: str, model: str) -> dict:
    dep = next(r for r in stack_capture(stack).of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == model)
    return dep.inputs["spec"]["template"]["spec"]["containers"][0]


def config_map(stack: str, model: str) -> dict:
    return stack_capture(stack).one("kubernetes:core/v1:ConfigMap", f"model-{model}-config").inputs["data"]


# Triton -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_triton_keeps_the_image_entrypoint(stack):
    assert "command" not in container(stack, "resnet50")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_triton_passes_tritonserver_as_the_first_arg(stack):
    assert container(stack, "resnet50")["args"][0] == "tritonserver"
