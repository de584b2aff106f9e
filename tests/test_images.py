"""Image references: digests, repositories and the pull policy each container is rendered with;
the converter's digest option."""

from __future__ import annotations

import pytest

from infra import config
from tests.conftest import raw_with, run_raw
from tests.test_config import NS, only_line_for
from tests.test_pod_hardening import containers
from tests.test_workload_config import FT_STORAGE, predictor_model
from tooling import policy_check
from workloads import images, jobs

DIGEST = "sha256:" + "0123456789abcdef" * 4
JOB = "kubernetes:batch/v1:Job"


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("vllm/vllm-openai:v0.11.0", "vllm/vllm-openai"),
        (f"gcr.io/llm-containers/convert:release@{DIGEST}", "gcr.io/llm-containers/convert"),
        (f"gcr.io/llm-containers/convert@{DIGEST}", "gcr.io/llm-containers/convert"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("localhost:5000/app:1.2", "localhost:5000/app"),
        ("nginx", "nginx"),
    ],
)
def test_repository_drops_tag_and_digest_but_keeps_a_registry_port(image, repository):
    assert images.repository(image) == repository


@pytest.mark.parametrize(
    ("image", "pinned"),
    [(f"r/app:v1@{DIGEST}", True), (f"r/app@{DIGEST}", True), ("r/app:v1", False), ("r/app@sha256:abc", False)],
)
def test_only_a_full_sha256_digest_pins(image, pinned):
    assert images.pinned_by_digest(image) is pinned


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        (f"r/app@{DIGEST}", "IfNotPresent"),
        (f"r/app:latest@{DIGEST}", "IfNotPresent"),
        ("r/app:v1", "IfNotPresent"),
        ("r/app:latest", "Always"),
        ("r/app", "Always"),
        ("localhost:5000/app", "Always"),
    ],
)
def test_pull_policy_is_what_the_api_server_defaults_to(image, policy):
    """kubernetes SetDefaults_Container: Always for the latest tag (untagged means latest), else
    IfNotPresent; a digest is IfNotPresent whatever its tag says."""
    assert images.pull_policy(image) == policy


@pytest.mark.parametrize(("spec", "container"), containers())
def test_every_rendered_container_pulls_as_its_reference_says(spec, container):
    assert container["imagePullPolicy"] == images.pull_policy(container["image"])


def test_a_digest_pinned_converter_still_runs_as_root():
    """jobs.ROOT_IMAGES names a repository; the digest must not hide it (it did: rsplit on ':')."""
    assert jobs.runs_as_root(f"{config.CONVERTER_IMAGE}:release@{DIGEST}")


def _ft_raw(**predictor) -> dict:
    model = predictor_model(
        fasterTransformer=True, convertedModelUploadPath="gs://{converted}/flan-t5/1/Model", **predictor
    )
    return raw_with(models=[model], storage=FT_STORAGE)


def test_converter_digest_pins_the_conversion_jobs_image():
    job = run_raw(_ft_raw(converterDigest=DIGEST)).of_type(JOB)[0]
    c = job.inputs["spec"]["template"]["spec"]["containers"][0]
    assert (c["image"], c["imagePullPolicy"]) == (f"{config.CONVERTER_IMAGE}:release@{DIGEST}", "IfNotPresent")


def test_a_converter_digest_that_is_not_a_sha256_is_rejected():
    line = only_line_for(_ft_raw(converterDigest="sha256:abc"), f"{NS}:models[0].predictor.converterDigest")
    assert "is not an image digest" in line and "crane digest" in line


def _prod_digest_findings(image: str) -> list[str]:
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        models=[{**raw_with()["models"][0], "image": image}],
        storage={"buckets": [{"name": "models", "noncurrentVersionDays": 30, "softDeleteDays": 7}]},
    )
    return [f.resource for f in policy_check.evaluate(run_raw(raw)) if f.policy == "k8s-prod-image-digest"]


def test_a_prod_stack_that_pins_its_image_passes_the_digest_rule_without_a_waiver():
    assert _prod_digest_findings(f"us-central1-docker.pkg.dev/p/models/t5-small:1.0-gpu@{DIGEST}") == []


def test_the_same_prod_stack_on_a_tag_fails_it():
    assert _prod_digest_findings("us-central1-docker.pkg.dev/p/models/t5-small:1.0-gpu") == [
        "model-t5-small-deployment"
    ]
