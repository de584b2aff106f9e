"""What each server's pod must carry to serve as its image really runs (issue 14's findings);
the integration tests in tests/integration run the real servers on these same objects."""

from __future__ import annotations

import json

import pytest

from infra import config
from tests.conftest import raw_with, run_raw, stack_capture
from tests.test_workload_config import predictor_model
from tooling import policy_check
from tooling.plan_text import highlights
from workloads import drivers, jobs, pod, predictor, torchserve, torchserve_ready, vllm
from workloads.pod import HttpCheck

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def container(stack: str, model: str) -> dict:
    dep = next(r for r in stack_capture(stack).of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == model)
    return dep.inputs["spec"]["template"]["spec"]["containers"][0]


def config_map(stack: str, model: str) -> dict:
    return stack_capture(stack).one("kubernetes:core/v1:ConfigMap", f"model-{model}-config").inputs["data"]


# TorchServe -------------------------------------------------------------------------------------


def test_torchserve_probes_run_the_model_ready_script_against_the_management_api():
    c = container("dev", "t5-small")
    expected = ["python", "/etc/torchserve/model_ready.py", "http://127.0.0.1:8081/models/t5-small"]
    assert [c[k]["exec"]["command"] for k in PROBES] == [expected] * 3


def test_torchserve_config_map_carries_the_model_ready_script():
    assert config_map("dev", "t5-small")[torchserve.READY_SCRIPT] == torchserve.READY_SOURCE.read_text()


def _describe(*statuses: str) -> list[dict]:
    return [{"modelName": "t5-small", "workers": [{"id": str(9000 + i), "status": s} for i, s in enumerate(statuses)]}]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_describe("READY"), True),
        (_describe("UNLOADING", "READY"), True),
        (_describe("UNLOADING", "UNLOADING"), False),
        (_describe(), False),
        ({"code": 404}, False),
    ],
    ids=["ready", "one-of-two-ready", "unloading", "no-workers", "not-a-model-list"],
)
def test_model_ready_needs_a_ready_worker(answer, expected):
    assert torchserve_ready.ready(json.loads(json.dumps(answer))) is expected


def test_model_ready_fails_when_the_management_api_does_not_answer():
    assert torchserve_ready.main("http://127.0.0.1:9/models/t5-small") == 1


# Load generator ---------------------------------------------------------------------------------


def test_torchserve_load_body_has_the_t5_handler_keys():
    _, _, body = jobs.load_request("torchserve", "t5-small", None, None)
    assert set(body) == set(jobs.T5_HANDLER_KEYS)


def test_torchserve_load_body_asks_for_languages_the_t5_handler_translates():
    _, _, body = jobs.load_request("torchserve", "t5-small", None, None)
    assert {body["from"], body["to"]} <= set(jobs.T5_HANDLER_LANGUAGES)


# Conversion Job (seed 001's FasterTransformer converter) ---------------------------------------

JOB = "kubernetes:batch/v1:Job"


def _conversion_pod() -> dict:
    return stack_capture("prod").one(JOB, "convert-flan-t5-ft-convert-job").inputs["spec"]["template"]["spec"]


def test_ft_conversion_requests_no_gpu():
    assert "nvidia.com/gpu" not in _conversion_pod()["containers"][0]["resources"]["limits"]


def test_ft_conversion_runs_as_root_because_its_image_can_only():
    spec = _conversion_pod()
    assert (jobs.runs_as_root(spec["containers"][0]["image"]), spec["securityContext"]["runAsUser"]) == (True, 0)


def test_ft_conversion_root_container_drops_every_capability():
    sc = _conversion_pod()["containers"][0]["securityContext"]
    assert (sc["capabilities"]["drop"], sc["allowPrivilegeEscalation"], sc["privileged"]) == (["ALL"], False, False)


def test_ft_conversion_schedules_on_cpu_nodes_without_the_gpu_toleration():
    spec = _conversion_pod()
    assert (spec["nodeSelector"], spec.get("tolerations")) == ({"kubernetes.io/os": "linux"}, None)


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


def _takes_the_rest(stack: str, model: str, mount_path: str) -> tuple[int, int]:
    """(size limit of the emptyDir at ``mount_path``, what the container's ephemeral storage leaves
    once its other emptyDirs and its own log files are counted)."""
    dep = next(r for r in stack_capture(stack).of_type(DEPLOYMENT) if r.inputs["metadata"]["name"] == model)
    spec = dep.inputs["spec"]["template"]["spec"]
    c = spec["containers"][0]
    name = next(m["name"] for m in c["volumeMounts"] if m["mountPath"] == mount_path)
    disks = {
        v["name"]: config.parse_quantity(v["emptyDir"]["sizeLimit"])
        for v in spec["volumes"]
        if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"
    }
    others = sum(size for n, size in disks.items() if n != name)
    limit = config.parse_quantity(c["resources"]["limits"]["ephemeral-storage"])
    return disks[name], limit - pod.CONTAINER_LOGS - others


def test_vllm_cache_volume_takes_what_tmp_and_the_logs_leave():
    size, rest = _takes_the_rest("staging", "mistral-7b", vllm.CACHE_DIR)
    assert rest - pod.MI < size <= rest


def _autopilot_vllm_without_class():
    raw = raw_with(
        cluster={"mode": "autopilot", "location": "us-central1", "deletionProtection": False},
        gpuPools=[],
        models=[
            {
                "name": "mistral-7b",
                "server": "vllm",
                "gpu": {"type": "nvidia-l4", "count": 1},
                "source": "hf://mistralai/Mistral-7B-Instruct-v0.3",
                "resources": {"cpu": "8", "memory": "30Gi", "ephemeralStorage": "50Gi"},
            }
        ],
    )
    return run_raw(raw).one(DEPLOYMENT, "model-mistral-7b-deployment")


def test_vllm_on_autopilot_selects_the_driver_its_cuda_needs():
    selector = _autopilot_vllm_without_class().inputs["spec"]["template"]["spec"]["nodeSelector"]
    assert selector[pod.DRIVER_VERSION_LABEL] == drivers.autopilot_driver(vllm.IMAGE_CUDA, vllm.IMAGE).version


def test_vllm_on_autopilot_says_why_in_the_plan():
    assert "CUDA 12.8" in highlights(_autopilot_vllm_without_class())["driver"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_vllm_on_a_compute_class_gets_the_driver_its_cuda_needs_from_the_class(stack):
    cc = stack_capture(stack).one("kubernetes:cloud.google.com/v1:ComputeClass", "computeclass-l4-serving")
    versions = {rule["gpu"]["driverVersion"] for rule in cc.inputs["spec"]["priorities"]}
    assert versions == {drivers.autopilot_driver(vllm.IMAGE_CUDA, vllm.IMAGE).version}


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


# LLM-pipeline predictor (seed 001, FasterTransformer) -------------------------------------------


def test_ft_predictor_probes_ask_triton():
    c = container("prod", "flan-t5")
    got = [(c[k]["httpGet"]["path"], c[k]["httpGet"]["port"]) for k in PROBES]
    assert got == [("/v2/health/ready", "triton"), ("/v2/health/ready", "triton"), ("/v2/health/live", "triton")]


def test_ft_predictor_mounts_a_writable_model_dir_where_it_downloads():
    c = container("prod", "flan-t5")
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == predictor.FT_MODEL_DIR)
    assert not mount.get("readOnly", False)


def test_ft_predictor_model_dir_takes_what_tmp_and_the_logs_leave():
    size, rest = _takes_the_rest("prod", "flan-t5", predictor.FT_MODEL_DIR)
    assert rest - pod.MI < size <= rest


def test_predictor_without_faster_transformer_keeps_its_health_probe():
    cfg = config.parse(raw_with(models=[predictor_model()]))
    probes = predictor.probes(cfg.models[0])
    assert {probes.startup, probes.readiness, probes.liveness} == {HttpCheck("/health", "http")}


# The converter's waiver (policies/config/prod.json) --------------------------------------------


def _security_findings(config: dict, policy: str = "k8s-security-context") -> list[str]:
    findings = policy_check.evaluate(stack_capture("prod"), config)
    return [f.line() for f in findings if f.policy == policy]


def _prod_waivers() -> dict:
    return policy_check.read_config_file(policy_check.default_config_path("prod"))


def test_without_the_waiver_only_the_root_converter_breaks_the_security_context_rule():
    lines = _security_findings({})
    assert lines and all("flan-t5-ft-convert" in line for line in lines)


def test_prod_waiver_names_exactly_the_root_converter():
    # rootWorkloads replaces the pack's default list, so it keeps the adapter beside the converter;
    # the converter is waived for root only, every other security-context check still applies.
    assert _prod_waivers()["k8s-security-context"] == {
        "rootWorkloads": ["custom-metrics/custom-metrics-stackdriver-adapter", "serving/flan-t5-ft-convert"]
    }


def test_with_the_waiver_prod_has_no_security_context_finding():
    assert _security_findings(_prod_waivers()) == []


def test_without_the_waiver_only_the_root_converter_has_a_writable_root():
    lines = _security_findings({}, "k8s-read-only-root")
    assert lines and all("flan-t5-ft-convert" in line for line in lines)


def test_prod_read_only_root_waiver_names_exactly_the_root_converter():
    assert _prod_waivers()["k8s-read-only-root"] == {"writableRootWorkloads": ["serving/flan-t5-ft-convert"]}


def test_with_the_waiver_prod_has_no_read_only_root_finding():
    assert _security_findings(_prod_waivers(), "k8s-read-only-root") == []
