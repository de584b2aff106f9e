"""Server images from Artifact Registry (issue 19): the remote repositories caching Docker Hub and
NVIDIA NGC, the rewrite of server images to them, and what each model's pods pull."""

from __future__ import annotations

import pytest

from infra import config, registry
from infra.config.values import mirror_image, split_image
from tests.conftest import STACKS, raw_with, run_raw, stack_capture
from tooling.offline import PROJECT_DIR
from workloads import serving

REPOSITORY = "gcp:artifactregistry/repository:Repository"
MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NS = "gke-gpu-serving"
DIGEST = "sha256:" + "0123456789abcdef" * 4
MIRRORS = {"docker.io": "us-central1-docker.pkg.dev/p/hub", "nvcr.io": "us-central1-docker.pkg.dev/p/ngc"}


def remotes(capture):
    return [r for r in capture.of_type(REPOSITORY) if r.inputs["mode"] == "REMOTE_REPOSITORY"]


def server_deployments(capture):
    return [d for d in capture.of_type(DEPLOYMENT) if d.name.startswith("model-")]


def image_of(deployment) -> str:
    return deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"]


def errors(raw) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    return info.value.lines


# The registry of a reference, read the runtime's way ----------------------------------------------


def test_a_single_name_is_an_official_docker_hub_image():
    # distribution/reference normalize.go: "to convert "ubuntu" to "docker.io/library/ubuntu:latest"".
    assert split_image("ubuntu") == ("docker.io", "library/ubuntu", "")


def test_a_first_component_without_a_dot_or_colon_is_a_docker_hub_namespace():
    assert split_image("vllm/vllm-openai:v0.11.0") == ("docker.io", "vllm/vllm-openai", ":v0.11.0")


def test_docker_hubs_legacy_and_endpoint_names_are_docker_hub():
    assert split_image("index.docker.io/pytorch/torchserve")[0] == "docker.io"
    assert split_image("registry-1.docker.io/python:3.11")[:2] == ("docker.io", "library/python")


def test_localhost_and_a_host_with_a_port_are_registries():
    assert split_image("localhost/team/app:1")[0] == "localhost"
    assert split_image("registry.example.com:5000/team/app:1") == ("registry.example.com:5000", "team/app", ":1")


# The rewrite ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "pulled"),
    [
        ("vllm/vllm-openai:v0.11.0", "us-central1-docker.pkg.dev/p/hub/vllm/vllm-openai:v0.11.0"),
        ("pytorch/torchserve:0.12.0-gpu", "us-central1-docker.pkg.dev/p/hub/pytorch/torchserve:0.12.0-gpu"),
        ("python:3.11", "us-central1-docker.pkg.dev/p/hub/library/python:3.11"),
        ("docker.io/library/python:3.11", "us-central1-docker.pkg.dev/p/hub/library/python:3.11"),
        ("docker.io/python:3.11", "us-central1-docker.pkg.dev/p/hub/library/python:3.11"),
        ("nvcr.io/nvidia/tritonserver:25.06-py3", "us-central1-docker.pkg.dev/p/ngc/nvidia/tritonserver:25.06-py3"),
    ],
)
def test_an_image_on_a_mirrored_registry_is_pulled_through_its_remote_repository(image, pulled):
    assert mirror_image(image, MIRRORS) == pulled


def test_a_digest_is_kept_as_written():
    assert mirror_image(f"vllm/vllm-openai@{DIGEST}", MIRRORS).endswith(f"/hub/vllm/vllm-openai@{DIGEST}")


def test_a_tag_and_a_digest_are_both_kept():
    out = mirror_image(f"nvcr.io/nvidia/tritonserver:25.06-py3@{DIGEST}", MIRRORS)
    assert out.endswith(f"/ngc/nvidia/tritonserver:25.06-py3@{DIGEST}")


@pytest.mark.parametrize(
    "image",
    [
        "us-central1-docker.pkg.dev/p/models/t5-small:1.0-gpu",
        "gcr.io/llm-containers/predict-triton:release",
        "ghcr.io/org/server:2.0",
        "registry.example.com:5000/vllm/vllm-openai:v0.11.0",
        "localhost:5000/vllm-openai:v0.11.0",
    ],
)
def test_an_image_on_any_other_registry_is_used_as_written(image):
    assert mirror_image(image, MIRRORS) == image


def test_a_registry_without_a_remote_is_not_rewritten():
    assert mirror_image("nvcr.io/nvidia/tritonserver:25.06-py3", {"docker.io": "x/hub"}).startswith("nvcr.io/")


# Config rules ---------------------------------------------------------------------------------------


def test_two_remotes_with_one_name_are_rejected():
    remotes_ = [{"name": "hub", "upstream": "docker.io"}, {"name": "hub", "upstream": "nvcr.io"}]
    lines = errors(raw_with(registry={"remotes": remotes_}))
    assert any(line.startswith(f"{NS}:registry.remotes[1].name") and "repeats" in line for line in lines)


def test_two_remotes_of_one_upstream_are_rejected():
    remotes_ = [{"name": "hub", "upstream": "docker.io"}, {"name": "hub2", "upstream": "docker.io"}]
    lines = errors(raw_with(registry={"remotes": remotes_}))
    assert any(line.startswith(f"{NS}:registry.remotes[1].upstream") and "cached by" in line for line in lines)


def test_a_remote_named_like_a_standard_repository_is_rejected():
    lines = errors(raw_with(registry={"remotes": [{"name": "models", "upstream": "docker.io"}]}))
    assert any(line.startswith(f"{NS}:registry.remotes[0].name") and "repository ID" in line for line in lines)


def test_an_upstream_the_stack_does_not_know_is_rejected():
    lines = errors(raw_with(registry={"remotes": [{"name": "quay", "upstream": "quay.io"}]}))
    assert any(line.startswith(f"{NS}:registry.remotes[0].upstream") and "docker.io" in line for line in lines)


def test_a_remote_name_that_is_no_dns_label_is_rejected():
    lines = errors(raw_with(registry={"remotes": [{"name": "Docker_Hub", "upstream": "docker.io"}]}))
    assert any(line.startswith(f"{NS}:registry.remotes[0].name") for line in lines)


def test_every_upstream_the_config_accepts_has_a_way_to_reach_it():
    accepted = set(config.RemoteConfig.model_fields["upstream"].annotation.__args__)
    assert accepted == set(config.UPSTREAMS)
    assert all((u.public_repository is None) != (u.uri is None) for u in config.UPSTREAMS.values())


def test_an_existing_cluster_mirroring_server_images_needs_its_node_account():
    cluster = {"mode": "existing", "location": "us-central1-a", "name": "theirs"}
    lines = errors(raw_with(cluster=cluster, gpuPools=[]))
    assert any(line.startswith(f"{NS}:registry.nodeServiceAccount") for line in lines)


def test_a_node_account_outside_existing_mode_is_rejected():
    lines = errors(raw_with(registry={"nodeServiceAccount": "n@p.iam.gserviceaccount.com"}))
    assert any(line.startswith(f"{NS}:registry.nodeServiceAccount") and "only for" in line for line in lines)


def test_a_node_account_that_is_no_service_account_email_is_rejected():
    lines = errors(raw_with(registry={"nodeServiceAccount": "nodes"}))
    assert any(line.startswith(f"{NS}:registry.nodeServiceAccount") and "email" in line for line in lines)


# The remote repositories ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_caches_docker_hub_and_ngc_in_its_region(stack):
    capture = stack_capture(stack)
    found = {r.inputs["repositoryId"]: (r.inputs["location"], r.inputs["format"]) for r in remotes(capture)}
    assert found == {
        f"gpu-serving-{stack}-docker-hub": ("us-central1", "DOCKER"),
        f"gpu-serving-{stack}-nvcr": ("us-central1", "DOCKER"),
    }


def test_docker_hub_is_reached_through_its_preset_and_ngc_through_its_uri():
    by_id = {r.inputs["repositoryId"]: r.inputs["remoteRepositoryConfig"] for r in remotes(stack_capture("prod"))}
    assert by_id["gpu-serving-prod-docker-hub"]["dockerRepository"] == {"publicRepository": "DOCKER_HUB"}
    assert by_id["gpu-serving-prod-nvcr"]["commonRepository"] == {"uri": "https://nvcr.io"}


def test_remote_repositories_delete_old_cached_versions_but_keep_the_most_recent():
    for repo in remotes(stack_capture("prod")):
        policies = {p["id"]: p for p in repo.inputs["cleanupPolicies"]}
        assert policies["delete-old-cached"]["condition"] == {"tagState": "ANY", "olderThan": f"{90 * 86_400}s"}
        assert policies["keep-recent-cached"] == {
            "id": "keep-recent-cached",
            "action": "KEEP",
            "mostRecentVersions": {"keepCount": 5},
        }
        assert repo.inputs["cleanupPolicyDryRun"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_the_nodes_may_read_every_remote_repository(stack):
    # Standard pools and Autopilot's auto-provisioned nodes (staging) both run as the stack's node account.
    capture = stack_capture(stack)
    readers = {m.name for m in capture.of_type(MEMBER) if m.inputs["role"] == "roles/artifactregistry.reader"}
    assert {f"registry-{key}-nodes-reader" for key in ("docker-hub", "nvcr")} <= readers
    for m in capture.of_type(MEMBER):
        assert (
            m.inputs["member"]
            == f"serviceAccount:gpu-serving-{stack}-nodes@replace-with-your-project-id.iam.gserviceaccount.com"
        )


def test_an_existing_clusters_named_node_account_may_read_the_repositories():
    cluster = {"mode": "existing", "location": "us-central1-a", "name": "theirs"}
    account = "theirs-nodes@p.iam.gserviceaccount.com"
    capture = run_raw(raw_with(cluster=cluster, gpuPools=[], registry={"nodeServiceAccount": account}))
    members = capture.of_type(MEMBER)
    assert len(members) == 4 and {m.inputs["member"] for m in members} == {f"serviceAccount:{account}"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_mirrors_are_exported_by_upstream(stack):
    mirrors = stack_capture(stack).outputs["imageMirrors"]
    assert mirrors == {
        "docker.io": f"us-central1-docker.pkg.dev/replace-with-your-project-id/gpu-serving-{stack}-docker-hub",
        "nvcr.io": f"us-central1-docker.pkg.dev/replace-with-your-project-id/gpu-serving-{stack}-nvcr",
    }


# What the model servers pull ------------------------------------------------------------------------


# Seed 001's predictor image is Google's own (gcr.io/llm-containers): the stack caches no gcr.io.
NOT_MIRRORED = {"model-flan-t5-deployment": "gcr.io/llm-containers/predict-triton:release"}


@pytest.mark.parametrize("stack", STACKS)
def test_server_images_come_from_the_regional_registry(stack):
    for d in server_deployments(stack_capture(stack)):
        if d.name in NOT_MIRRORED:
            assert image_of(d) == NOT_MIRRORED[d.name]
        else:
            assert image_of(d).startswith("us-central1-docker.pkg.dev/replace-with-your-project-id/"), d.name


def test_default_server_images_keep_their_upstream_path_and_tag():
    images = {d.name: image_of(d) for d in server_deployments(stack_capture("prod"))}
    base = "us-central1-docker.pkg.dev/replace-with-your-project-id/gpu-serving-prod"
    assert images["model-mistral-7b-deployment"] == f"{base}-docker-hub/vllm/vllm-openai:v0.11.0"
    assert images["model-resnet50-deployment"] == f"{base}-nvcr/nvidia/tritonserver:25.06-py3"


def test_a_mirrored_deployment_names_its_upstream_image():
    d = stack_capture("prod").one(DEPLOYMENT, "model-resnet50-deployment")
    assert (
        d.inputs["metadata"]["annotations"][serving.IMAGE_UPSTREAM_ANNOTATION]
        == "nvcr.io/nvidia/tritonserver:25.06-py3"
    )


def test_the_driver_is_still_derived_from_the_upstream_vllm_image():
    # staging's mistral-7b runs on compute class l4-serving: the class carries the driver choice.
    cc = stack_capture("staging").one("kubernetes:cloud.google.com/v1:ComputeClass", "computeclass-l4-serving")
    assert cc.inputs["metadata"]["annotations"]["gke-gpu-serving/gpu-driver"].startswith(
        "latest: mistral-7b: vllm/vllm-openai:v0.11.0 "
    )


def test_mirroring_off_pulls_the_images_as_written():
    model = {**raw_with()["models"][0], "name": "resnet50", "server": "triton", "source": "gs://{models}/triton"}
    model.pop("image")
    capture = run_raw(raw_with(models=[model], registry={"mirrorServerImages": False}))
    assert image_of(capture.one(DEPLOYMENT, "model-resnet50-deployment")) == "nvcr.io/nvidia/tritonserver:25.06-py3"


def test_an_image_the_config_pins_on_another_registry_is_used_as_written():
    pinned = "ghcr.io/org/vllm-openai:v0.11.0"
    model = {
        "name": "llm",
        "server": "vllm",
        "gpu": {"type": "nvidia-tesla-t4", "count": 1},
        "source": "hf://org/model",
        "image": pinned,
    }
    capture = run_raw(raw_with(models=[model]))
    d = capture.one(DEPLOYMENT, "model-llm-deployment")
    assert image_of(d) == pinned
    assert serving.IMAGE_UPSTREAM_ANNOTATION not in (d.inputs["metadata"].get("annotations") or {})


# Whether GKE streams it -----------------------------------------------------------------------------

MODES = {"r/p/hub": registry.REMOTE, "r/p/models": registry.STANDARD, "r/p/virtual": "VIRTUAL_REPOSITORY"}


def test_a_remote_repository_image_streams():
    assert registry.streaming_verdict("r/p/hub/vllm/vllm-openai:v0.11.0", MODES, True).startswith("yes: ")


def test_a_standard_repository_image_streams():
    assert registry.streaming_verdict("r/p/models/t5:1", MODES, True).startswith("yes: ")


def test_a_virtual_repository_image_is_not_counted_as_streaming():
    assert registry.streaming_verdict("r/p/virtual/t5:1", MODES, True).startswith("no: ")


def test_an_ngc_image_pulled_directly_does_not_stream():
    assert registry.streaming_verdict("nvcr.io/nvidia/tritonserver:25.06-py3", MODES, True).startswith("no: nvcr.io")


def test_nothing_streams_where_image_streaming_is_off():
    assert registry.streaming_verdict("r/p/hub/vllm/vllm-openai:v0.11.0", MODES, False).startswith("no: ")


def test_an_ubuntu_pool_does_not_stream():
    pool = {**raw_with()["gpuPools"][0], "imageType": "UBUNTU_CONTAINERD"}
    model = {**raw_with()["models"][0], "name": "resnet50", "server": "triton", "source": "gs://{models}/triton"}
    model.pop("image")
    capture = run_raw(raw_with(gpuPools=[pool], models=[model]))
    notes = capture.one(DEPLOYMENT, "model-resnet50-deployment").inputs["metadata"]["annotations"]
    assert notes[serving.IMAGE_STREAMING_ANNOTATION].startswith("no: image streaming is off")


@pytest.mark.parametrize("stack", STACKS)
def test_every_mirrored_server_image_of_the_example_stacks_streams(stack):
    for d in server_deployments(stack_capture(stack)):
        notes = d.inputs["metadata"].get("annotations") or {}
        if serving.IMAGE_UPSTREAM_ANNOTATION in notes:
            assert notes[serving.IMAGE_STREAMING_ANNOTATION].startswith("yes: Artifact Registry remote"), d.name


def test_the_readme_configuration_reference_has_a_row_per_registry_key():
    readme = (PROJECT_DIR / "README.md").read_text()
    for name, field in config.RegistryConfig.model_fields.items():
        key = field.alias or name
        assert f"| `registry.{key}` |" in readme, key
        row = next(line for line in readme.splitlines() if line.startswith(f"| `registry.{key}` |"))
        assert row.endswith("| `infra/config/registry.py` |"), key
