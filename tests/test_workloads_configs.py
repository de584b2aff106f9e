"""Serving workloads of small configs beyond the example stacks (a TorchServe model store on GCS
FUSE, a Hugging Face token, the load generator, load balancers), and a destroy that completes:
load-balancer Services go before the cluster, everything else dies with it."""

from __future__ import annotations

from functools import cache

import pytest

from tests.conftest import LOAD_BALANCER_KINDS, STACKS, raw_with, run_raw, stack_capture
from tests.test_workloads import DEPLOYMENT, JOB, SERVICE, pod_of, server
from tooling.plan_text import kubernetes_manifest
from workloads import jobs, pod, serving

# Configs beyond the example stacks -----------------------------------------------------------


def test_torchserve_bucket_store_mounts_the_model_with_gcs_fuse():
    capture = run_raw(raw_with(models=[{**raw_with()["models"][0], "torchserve": {"modelStore": "bucket"}}]))
    d = capture.one(DEPLOYMENT, "model-t5-small-deployment")
    vol = next(v for v in pod_of(d)["volumes"] if v["name"] == pod.MODEL_VOLUME)
    assert vol["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
    assert d.inputs["spec"]["template"]["metadata"]["annotations"][pod.GCSFUSE_ANNOTATION] == "true"


HF_TOKEN = "hf_not_a_real_token"


@cache
def _hf_capture():
    """A vLLM model from Hugging Face with the token set (run once)."""
    model = {
        "name": "mistral",
        "server": "vllm",
        "gpu": {"type": "nvidia-tesla-t4", "count": 1},
        "source": "hf://mistralai/Mistral-7B-Instruct-v0.3",
    }
    return run_raw(raw_with(models=[model], hfToken=HF_TOKEN))


def test_hf_token_becomes_a_secret_the_vllm_pod_reads():
    capture = _hf_capture()
    secret = capture.one("kubernetes:core/v1:Secret", "hf-token")
    env = {e["name"]: e for e in server(capture, "mistral")["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": secret.inputs["metadata"]["name"], "key": "token"}


def test_hf_token_never_appears_in_a_rendered_manifest():
    manifests = [kubernetes_manifest(r) for r in _hf_capture().kubernetes_objects()]
    assert HF_TOKEN not in str(manifests)


def test_no_hf_secret_without_a_token():
    secrets = stack_capture("staging").of_type("kubernetes:core/v1:Secret")
    assert not [s for s in secrets if s.inputs["metadata"]["name"] == serving.HF_SECRET]


def test_load_generator_job_is_bounded_and_not_awaited():
    capture = run_raw(raw_with(loadTest={"enabled": True, "model": "t5-small", "durationSeconds": 600}))
    job = capture.one(JOB, "loadtest-job")
    assert (job.inputs["spec"]["activeDeadlineSeconds"], job.inputs["spec"]["backoffLimit"]) == (720, 0)
    assert job.inputs["metadata"]["annotations"] == {jobs.SKIP_AWAIT: "true"}


def test_disabled_load_generator_creates_nothing():
    assert not stack_capture("dev").of_type(JOB)


def test_prod_load_balancer_carries_the_opt_in_label():
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=[
            {**raw_with()["models"][0], "service": {"type": "LoadBalancer", "internal": False, "allowInProd": True}}
        ],
        storage={"buckets": [{"name": "models", "noncurrentVersionDays": 30, "softDeleteDays": 7}]},
    )
    svc = run_raw(raw).one(SERVICE, "model-t5-small-service").inputs
    assert svc["metadata"]["labels"]["gke-gpu-serving/public-load-balancer"] == "true"
    assert "annotations" not in svc["metadata"]


def test_internal_load_balancer_is_annotated_internal():
    svc = _prod_lb_capture().one(SERVICE, "model-t5-small-service").inputs
    assert svc["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}


# Destroy that completes ----------------------------------------------------------------------


def _prod_lb_capture():
    raw = raw_with(
        models=[{**raw_with()["models"][0], "service": {"type": "LoadBalancer"}}],
        webapp={"model": "t5-small", "image": "a/fastdash:1.0", "service": {"type": "LoadBalancer"}},
    )
    return run_raw(raw)


def test_load_balancer_services_are_deleted_before_the_cluster():
    capture = _prod_lb_capture()
    lbs = [s for s in capture.of_type(SERVICE) if s.inputs["spec"]["type"] == "LoadBalancer"]
    provider = capture.one("pulumi:providers:kubernetes")
    assert len(lbs) == 2
    assert all(not s.deleted_with and s.provider.startswith(provider.urn) for s in lbs)


@pytest.mark.parametrize("stack", STACKS)
def test_every_other_kubernetes_object_dies_with_the_cluster(stack):
    capture = stack_capture(stack)
    cluster = capture.one("gcp:container/cluster:Cluster")
    for obj in capture.kubernetes_objects():
        if obj.inputs.get("kind") == "Service" and obj.inputs["spec"].get("type") == "LoadBalancer":
            continue
        if obj.inputs.get("kind") in LOAD_BALANCER_KINDS:
            continue
        assert obj.deleted_with == cluster.urn, obj.name


def test_opted_in_prod_load_balancer_passes_the_policy_pack():
    from tooling import policy_check

    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=[
            {**raw_with()["models"][0], "service": {"type": "LoadBalancer", "internal": False, "allowInProd": True}}
        ],
        storage={"buckets": [{"name": "models", "noncurrentVersionDays": 30, "softDeleteDays": 7}]},
    )
    findings = policy_check.evaluate(run_raw(raw))
    assert not [f for f in findings if "load-balancer" in f.policy]
