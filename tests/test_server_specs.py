"""What each server's pod must carry to serve as its image really runs (issue 14's findings);
the integration tests in tests/integration run the real servers on these same objects."""

from __future__ import annotations

import pytest

from infra.plan import highlights
from tests.conftest import stack_capture
from workloads import drivers, pod, vllm

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def container(stack: str, model: str) -> dict:
    dep = next(r for r in stack_capture(stack).of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == model)
    return dep.inputs["spec"]["template"]["spec"]["containers"][0]


def config_map(stack: str, model: str) -> dict:
    return stack_capture(stack).one("kubernetes:core/v1:ConfigMap", f"model-{model}-config").inputs["data"]


# vLLM -------------------------------------------------------------------------------------------


def _env(c: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_vllm_names_a_user_for_getpass(stack):
    env = _env(container(stack, "mistral-7b"))
    assert (env["USER"], env["LOGNAME"]) == (vllm.USER, vllm.USER)


@pytest.mark.parametrize("name", ["VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "HF_HOME", "HOME"])
def test_vllm_caches_are_on_the_cache_volume(name):
    c = container("staging", "mistral-7b")
    mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "cache")
    assert _env(c)[name].startswith(mount + "/")


def test_vllm_cache_volume_is_limited_to_the_pods_ephemeral_storage():
    dep = next(r for r in stack_capture("staging").of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == "mistral-7b")
    spec = dep.inputs["spec"]["template"]["spec"]
    cache = next(v for v in spec["volumes"] if v["name"] == "cache")
    limit = spec["containers"][0]["resources"]["limits"]["ephemeral-storage"]
    assert cache["emptyDir"]["sizeLimit"] == limit


def test_vllm_on_autopilot_selects_the_driver_its_cuda_needs():
    dep = next(r for r in stack_capture("staging").of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == "mistral-7b")
    selector = dep.inputs["spec"]["template"]["spec"]["nodeSelector"]
    assert selector[pod.DRIVER_VERSION_LABEL] == drivers.autopilot_driver(vllm.IMAGE_CUDA, vllm.IMAGE).version


def test_vllm_on_autopilot_says_why_in_the_plan():
    dep = stack_capture("staging").one(DEPLOYMENT, "model-mistral-7b-deployment")
    assert "CUDA 12.8" in highlights(dep)["driver"]


def test_vllm_on_standard_leaves_the_driver_to_the_pool():
    dep = next(r for r in stack_capture("prod").of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == "mistral-7b")
    assert pod.DRIVER_VERSION_LABEL not in dep.inputs["spec"]["template"]["spec"]["nodeSelector"]


@pytest.mark.parametrize(("cuda", "version"), [("12.8", "latest"), ("12.2", "default")])
def test_autopilot_driver_follows_the_cuda_branch(cuda, version):
    assert drivers.autopilot_driver(cuda, "img").version == version


def test_autopilot_driver_refuses_an_unknown_cuda():
    with pytest.raises(ValueError, match=r"no minimum driver branch known for CUDA 13\.0"):
        drivers.autopilot_driver("13.0", "img")


# Triton -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_triton_keeps_the_image_entrypoint(stack):
    assert "command" not in container(stack, "resnet50")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_triton_passes_tritonserver_as_the_first_arg(stack):
    assert container(stack, "resnet50")["args"][0] == "tritonserver"
