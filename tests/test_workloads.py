"""Serving workloads as the engine would receive them: asserted on the captured objects of the
example stacks, plus the pure pod helpers. Small configs beyond the example stacks, and the
destroy order of load balancers, are ``tests/test_workloads_configs.py``."""

from __future__ import annotations

import pytest

from infra import catalog, config, platform_args
from infra.config import COMPUTE_CLASS_LABEL
from tests.conftest import STACKS, raw_with, stack_capture
from tests.test_workload_config import FT_STORAGE, predictor_model
from tooling.offline import Capture
from tooling.plan_text import highlights
from workloads import jobs, pod, webapp

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
SERVICE = "kubernetes:core/v1:Service"
GPU = "nvidia.com/gpu"


def workloads(capture: Capture):
    return [r for r in capture.resources if r.type in (DEPLOYMENT, JOB)]


def pod_of(res) -> dict:
    return res.inputs["spec"]["template"]["spec"]


def server(capture: Capture, model: str) -> dict:
    return pod_of(capture.one(DEPLOYMENT, f"model-{model}-deployment"))["containers"][0]


OURS = ("model-server", "conversion", "webapp", "load-generator")


def all_workloads():
    """The stack's own workloads (the adapter is upstream's manifest, tested in test_metrics)."""
    return [
        pytest.param(s, r.name, id=f"{s}:{r.name}")
        for s in STACKS
        for r in workloads(stack_capture(s))
        if r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] in OURS
    ]


def _res(stack, name):
    return next(r for r in workloads(stack_capture(stack)) if r.name == name)


@pytest.mark.parametrize(("stack", "name"), all_workloads())
def test_every_container_requests_what_it_limits(stack, name):
    for c in pod_of(_res(stack, name))["containers"]:
        assert c["resources"]["requests"] == c["resources"]["limits"]


@pytest.mark.parametrize(("stack", "name"), all_workloads())
def test_gpu_is_requested_exactly_by_servers(stack, name):
    """The example stacks' one conversion (seed 001's FasterTransformer) converts on CPU."""
    res = _res(stack, name)
    gpus = sum(int(c["resources"]["limits"].get(GPU, 0)) for c in pod_of(res)["containers"])
    component = res.inputs["metadata"]["labels"]["app.kubernetes.io/component"]
    assert (gpus > 0) == (component == "model-server")


@pytest.mark.parametrize(("stack", "name"), all_workloads())
def test_every_pod_runs_confined(stack, name):
    """Non-root, except an image in jobs.ROOT_IMAGES (seed 001's converter), which runs as uid 0."""
    spec = pod_of(_res(stack, name))
    root = jobs.runs_as_root(spec["containers"][0]["image"])
    assert (spec["securityContext"]["runAsNonRoot"], spec["securityContext"]["runAsUser"]) == (
        (False, 0) if root else (True, 1000)
    )
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert (sc["allowPrivilegeEscalation"], sc["capabilities"]["drop"]) == (False, ["ALL"])


def _all_gpu_pods(stack):
    return [
        r
        for r in workloads(stack_capture(stack))
        if r.inputs["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].get(GPU)
    ]


def _gpu_pods(stack):
    """GPU pods on pools (Standard) or Autopilot's accelerator selector: not on a compute class."""
    return [r for r in _all_gpu_pods(stack) if COMPUTE_CLASS_LABEL not in pod_of(r).get("nodeSelector", {})]


def _class_pods(stack):
    return [r for r in _all_gpu_pods(stack) if COMPUTE_CLASS_LABEL in pod_of(r).get("nodeSelector", {})]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_standard_gpu_pods_land_only_on_pools_that_hold_them(stack):
    capture = stack_capture(stack)
    pools = {}
    for p in capture.of_type("gcp:container/nodePool:NodePool"):
        acc = (p.inputs["nodeConfig"].get("guestAccelerators") or [{}])[0]
        pools[p.inputs["name"]] = (acc.get("type"), acc.get("count", 0))
    for res in _gpu_pods(stack):
        spec = pod_of(res)
        accelerator = spec["nodeSelector"][pod.ACCELERATOR_LABEL]
        wanted = int(spec["containers"][0]["resources"]["limits"][GPU])
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        chosen = terms[0]["matchExpressions"][0]["values"]
        assert chosen and all(pools[name][0] == accelerator and pools[name][1] >= wanted for name in chosen)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_standard_gpu_pods_tolerate_exactly_the_pool_taint(stack):
    for res in _gpu_pods(stack):
        assert pod_of(res)["tolerations"] == [
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        ]


def test_autopilot_gpu_pods_select_the_accelerator_without_tolerations():
    for res in _gpu_pods("staging"):
        spec = pod_of(res)
        assert spec["nodeSelector"][pod.ACCELERATOR_LABEL] == "nvidia-l4"
        assert "tolerations" not in spec and "affinity" not in spec


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_compute_class_pods_select_the_class_and_nothing_gke_would_reject(stack):
    # GKE rejects a Pod on a class that also selects a label the class has a field for
    # (gke-accelerator, gke-spot, gke-gpu-driver-version): About custom ComputeClasses.
    pods = _class_pods(stack)
    assert pods and all(pod_of(r)["nodeSelector"] == {COMPUTE_CLASS_LABEL: "l4-serving"} for r in pods)


def test_compute_class_pods_tolerate_the_class_taint_and_on_standard_the_gpu_taint():
    class_taint = {"key": COMPUTE_CLASS_LABEL, "operator": "Equal", "value": "l4-serving", "effect": "NoSchedule"}
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    standard = [pod_of(r)["tolerations"] for r in _class_pods("prod")]
    autopilot = [pod_of(r)["tolerations"] for r in _class_pods("staging")]
    assert (standard, autopilot) == ([[gpu_taint, class_taint]], [[class_taint]])


def test_autopilot_gpu_pods_stay_within_the_per_gpu_bounds():
    for res in _all_gpu_pods("staging"):
        limits = pod_of(res)["containers"][0]["resources"]["limits"]
        bounds = catalog.ACCELERATORS["nvidia-l4"].autopilot[int(limits[GPU])]
        assert bounds.cpu_min <= config.parse_quantity(limits["cpu"]) <= bounds.cpu_max
        mem = config.parse_quantity(limits["memory"]) / 2**30
        assert bounds.memory_min_gib <= mem <= bounds.memory_max_gib


@pytest.mark.parametrize("stack", STACKS)
def test_shm_is_a_memory_volume_smaller_than_the_memory_limit(stack):
    for res in stack_capture(stack).of_type(DEPLOYMENT):
        spec = pod_of(res)
        shm = [v for v in spec.get("volumes", []) if v["name"] == pod.SHM_VOLUME]
        if res.inputs["metadata"]["labels"]["app.kubernetes.io/component"] != "model-server":
            continue
        limit = config.parse_quantity(spec["containers"][0]["resources"]["limits"]["memory"])
        assert shm[0]["emptyDir"]["medium"] == "Memory"
        assert config.parse_quantity(shm[0]["emptyDir"]["sizeLimit"]) < limit


def _ports(container) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container["ports"]}


def _probe_paths(container) -> tuple:
    return tuple(
        (container[k]["httpGet"]["path"], container[k]["httpGet"]["port"])
        for k in ("startupProbe", "readinessProbe", "livenessProbe")
    )


def test_torchserve_ports():
    c = server(stack_capture("dev"), "t5-small")
    assert _ports(c) == {"http": 8080, "management": 8081, "metrics": 8082}


def test_torchserve_config_turns_prometheus_metrics_on():
    cm = stack_capture("dev").one("kubernetes:core/v1:ConfigMap", "model-t5-small-config")
    props = dict(line.split("=", 1) for line in cm.inputs["data"]["config.properties"].splitlines())
    assert (props["metrics_mode"], props["metrics_address"]) == ("prometheus", "http://0.0.0.0:8082")


def test_triton_ports_and_probes():
    c = server(stack_capture("dev"), "resnet50")
    assert _ports(c) == {"http": 8000, "grpc": 8001, "metrics": 8002}
    assert _probe_paths(c) == (("/v2/health/ready", "http"), ("/v2/health/ready", "http"), ("/v2/health/live", "http"))


def test_triton_reads_the_physical_bucket_natively():
    args = server(stack_capture("dev"), "resnet50")["args"]
    assert "--model-repository=gs://gpu-serving-dev-models-a1b2c3d4/triton/model_repository" in args


def test_vllm_serves_openai_on_8000_with_health_probes():
    c = server(stack_capture("staging"), "mistral-7b")
    assert _ports(c) == {"http": 8000}
    assert set(_probe_paths(c)) == {("/health", "http")}
    assert c["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]


def test_vllm_tensor_parallel_is_the_gpu_count():
    c = server(stack_capture("staging"), "mistral-7b")
    assert f"--tensor-parallel-size={c['resources']['limits'][GPU]}" in c["args"]


def test_predictor_exposes_5000_and_8000_on_a_node_port():
    svc = stack_capture("prod").one(SERVICE, "model-flan-t5-service").inputs["spec"]
    assert svc["type"] == "NodePort"
    assert {p["name"]: p["port"] for p in svc["ports"]} == {"http": 5000, "triton": 8000}


def test_predictor_serves_the_converted_model_with_faster_transformer():
    env = {e["name"]: e["value"] for e in server(stack_capture("prod"), "flan-t5")["env"]}
    assert env["AIP_STORAGE_URI"] == "gs://gpu-serving-prod-converted-a1b2c3d4/flan-t5/1/Model"


def test_conversion_job_runs_before_the_predictor_that_needs_it():
    capture = stack_capture("prod")
    job = capture.one(JOB, "convert-flan-t5-ft-convert-job")
    assert job.urn in capture.one(DEPLOYMENT, "model-flan-t5-deployment").depends_on


def test_conversion_job_is_bounded():
    spec = stack_capture("prod").one(JOB, "convert-flan-t5-ft-convert-job").inputs["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (2, 3600)


def test_conversion_job_runs_as_the_writer_identity():
    spec = pod_of(stack_capture("prod").one(JOB, "convert-flan-t5-ft-convert-job"))
    assert spec["serviceAccountName"] == "ft-converter"


def test_conversion_job_writes_the_converted_bucket():
    c = pod_of(stack_capture("prod").one(JOB, "convert-flan-t5-ft-convert-job"))["containers"][0]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["DESTINATION_URI"].startswith("gs://gpu-serving-prod-converted-")
    assert c["args"] == ["1", "$(SOURCE_URI)", "$(DESTINATION_URI)"]


def test_every_model_has_a_pdb_selecting_its_pods():
    capture = stack_capture("prod")
    for d in capture.of_type(DEPLOYMENT):
        if d.inputs["metadata"]["labels"]["app.kubernetes.io/component"] not in OURS:
            continue
        pdb = capture.one("kubernetes:policy/v1:PodDisruptionBudget", d.name.replace("-deployment", "-pdb"))
        assert pdb.inputs["spec"]["selector"] == d.inputs["spec"]["selector"]


@pytest.mark.parametrize("stack", STACKS)
def test_serving_namespace_denies_ingress_by_default(stack):
    deny = stack_capture(stack).one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-default-deny")
    assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_managed_prometheus_may_reach_only_the_metrics_port():
    policy = stack_capture("dev").one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-t5-small")
    gmp = [r for r in policy.inputs["spec"]["ingress"] if "namespaceSelector" in r["from"][0]]
    assert [p["port"] for p in gmp[0]["ports"]] == ["metrics"]


def test_front_end_and_load_generator_reach_the_serving_ports():
    policy = stack_capture("dev").one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-t5-small")
    clients = next(r for r in policy.inputs["spec"]["ingress"] if "podSelector" in r["from"][0])
    assert [p["port"] for p in clients["ports"]] == ["http", "management"]


def test_node_port_is_open_only_to_its_allowed_cidrs():
    policy = stack_capture("prod").one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "netpol-flan-t5")
    blocks = [p["ipBlock"]["cidr"] for r in policy.inputs["spec"]["ingress"] for p in r["from"] if "ipBlock" in p]
    assert blocks == ["10.0.0.0/8"]


def test_web_front_end_points_at_its_torchserve_model():
    d = stack_capture("prod").one(DEPLOYMENT, "webapp-deployment")
    env = {e["name"]: e["value"] for e in pod_of(d)["containers"][0]["env"]}
    assert env["MODEL_PREDICTION"] == "http://t5-small.serving.svc.cluster.local:8080/predictions/t5-small"
    assert env["MODEL_MANAGEMENT"] == "http://t5-small.serving.svc.cluster.local:8081/models/t5-small"


def test_web_front_end_is_a_cluster_ip_service():
    assert stack_capture("prod").one(SERVICE, "webapp-service").inputs["spec"]["type"] == "ClusterIP"


def test_plan_shows_each_model_deployment_with_image_gpu_and_replicas():
    d = highlights(stack_capture("staging").one(DEPLOYMENT, "model-mistral-7b-deployment"))
    mirror = "us-central1-docker.pkg.dev/replace-with-your-project-id/gpu-serving-staging-docker-hub"
    assert (d["images"], d["gpu"], d["replicas"]) == (f"{mirror}/vllm/vllm-openai:v0.11.0", "1x class l4-serving", 1)


def test_plan_shows_where_a_mirrored_server_image_comes_from_and_that_it_streams():
    d = highlights(stack_capture("staging").one(DEPLOYMENT, "model-mistral-7b-deployment"))
    assert d["upstream"] == "vllm/vllm-openai:v0.11.0"
    assert d["streams"] == "yes: Artifact Registry remote repository gpu-serving-staging-docker-hub"


# Pure helpers --------------------------------------------------------------------------------


def test_autopilot_placement_adds_the_driver_version_selector():
    placement = pod.gpu_placement("nvidia-l4", autopilot=True, driver_version="latest")
    assert placement.node_selector == {pod.ACCELERATOR_LABEL: "nvidia-l4", pod.DRIVER_VERSION_LABEL: "latest"}


def test_default_shm_for_vllm_is_half_the_memory_up_to_16gi():
    assert [pod.default_shm_size("vllm", m) for m in ("24Gi", "64Gi")] == ["12288Mi", "16384Mi"]


def test_default_shm_for_other_servers_is_at_most_1gi():
    assert [pod.default_shm_size("triton", m) for m in ("2Gi", "16Gi")] == ["512Mi", "1024Mi"]


def test_grace_period_covers_drain_and_shutdown():
    assert pod.termination_grace(30) == pod.DRAIN_SECONDS + 30


def test_startup_probe_allows_the_whole_load_budget():
    probes = pod.probe_args(pod.Probes(*(pod.HttpCheck("/h", "http"),) * 3, startup_seconds=1800))
    startup = probes["startup_probe"]
    assert startup.period_seconds * startup.failure_threshold == 1800


def test_locustfile_sends_the_configured_rate():
    text = jobs.locustfile("POST", "/infer", {"a": 1}, 0.5)
    assert "constant_throughput(0.5)" in text and "'/infer'" in text


def test_web_front_end_urls_follow_torchserve_paths():
    assert webapp.model_urls("t5", "ns")["MODEL_PREDICTION"] == "http://t5.ns.svc.cluster.local:8080/predictions/t5"


def test_predictor_conversion_follows_seed_001():
    cfg = config.parse(
        raw_with(
            models=[predictor_model(fasterTransformer=True, convertedModelUploadPath="gs://{converted}/f/1/Model")],
            storage=FT_STORAGE,
        )
    )
    conv = config.predictor_conversion(cfg.models[0])
    assert (conv.image, conv.command) == ("gcr.io/llm-containers/convert:release", ("./convert_t5.sh",))


def test_faster_transformer_predictor_reads_source_and_converted_buckets():
    cfg = config.parse(
        raw_with(
            models=[predictor_model(fasterTransformer=True, convertedModelUploadPath="gs://{converted}/f/1/Model")],
            storage=FT_STORAGE,
        )
    )
    assert platform_args.model_reads(cfg.models[0]) == ("models", "converted")
