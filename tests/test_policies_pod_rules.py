"""The pack's pod-hardening rules (read-only roots, service account tokens, prod digests), the way tests/test_policies_rules.py
tests every rule: a happy-path Deployment that passes, one-field changes that fail with the exact
message, preview-time unknowns that neither raise nor report, and the configured exceptions."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_ARRAY_VALUE, UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import images, pod_security
from tests.policy_harness import C0, DELETE, DEPLOYMENT, DEPLOYMENT_OK, POD, changed, violations

DIGEST = "sha256:" + "0123456789abcdef" * 4
TAGGED = "us-central1-docker.pkg.dev/p/models/t5:1.0-gpu"
HARDENED_OK = changed(
    changed(
        changed(DEPLOYMENT_OK, (*POD, "automountServiceAccountToken"), False),
        (*C0, "securityContext", "readOnlyRootFilesystem"),
        True,
    ),
    (*C0, "image"),
    f"{TAGGED}@{DIGEST}",
)
NOT_PINNED = (
    f"container 'server' image {TAGGED} is not pinned by digest in prod: a tag can be moved to other content; pin "
    "it as us-central1-docker.pkg.dev/p/models/t5@sha256:<digest> (crane digest "
    f"{TAGGED}), or list us-central1-docker.pkg.dev/p/models/t5 in tagAllowed"
)
TOKEN_VOLUME = {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
ADAPTER = changed(
    changed(HARDENED_OK, ("metadata", "name"), "custom-metrics-stackdriver-adapter"),
    ("metadata", "namespace"),
    "custom-metrics",
)

HAPPY = [pod_security.service_account_token, pod_security.read_only_root, images.prod_image_digest]
WRITABLE_ROOT = (
    "container 'server' can write to its image's file system; set securityContext.readOnlyRootFilesystem true "
    "and mount an emptyDir where it writes"
)


@pytest.mark.parametrize("policy", HAPPY, ids=lambda p: p.name)
def test_happy_path_passes(policy):
    assert violations(policy, DEPLOYMENT, HARDENED_OK) == []


# (policy, path, new value, exact message)
FAILS = [
    (images.prod_image_digest, (*C0, "image"), TAGGED, NOT_PINNED),
    (
        images.prod_image_digest,
        (*C0, "image"),
        "r/app@sha256:abc",
        "container 'server' image r/app@sha256:abc is not pinned by digest in prod: a tag can be moved to other "
        "content; pin it as r/app@sha256:<digest> (crane digest r/app@sha256:abc), or list r/app in tagAllowed",
    ),
    (pod_security.read_only_root, (*C0, "securityContext", "readOnlyRootFilesystem"), DELETE, WRITABLE_ROOT),
    (pod_security.read_only_root, (*C0, "securityContext", "readOnlyRootFilesystem"), False, WRITABLE_ROOT),
    (
        pod_security.read_only_root,
        (*POD, "initContainers"),
        [{"name": "fetch", "image": "busybox:1.36", "securityContext": {}}],
        "container 'fetch' can write to its image's file system; set securityContext.readOnlyRootFilesystem true "
        "and mount an emptyDir where it writes",
    ),
    (
        pod_security.service_account_token,
        (*POD, "automountServiceAccountToken"),
        DELETE,
        "pod mounts its service account token (automountServiceAccountToken is not false) though it calls no "
        "Kubernetes API; set automountServiceAccountToken false, or list the workload in apiClients if it does "
        "call the API",
    ),
    (
        pod_security.service_account_token,
        (*POD, "automountServiceAccountToken"),
        True,
        "pod mounts its service account token (automountServiceAccountToken is not false) though it calls no "
        "Kubernetes API; set automountServiceAccountToken false, or list the workload in apiClients if it does "
        "call the API",
    ),
    (
        pod_security.service_account_token,
        (*POD, "volumes"),
        [TOKEN_VOLUME],
        "volume 'token' projects a service account token into a pod that calls no Kubernetes API; remove it, "
        "or list the workload in apiClients if it does call the API",
    ),
]


@pytest.mark.parametrize(
    ("policy", "path", "value", "message"), FAILS, ids=[f"{f[0].name}:{'.'.join(map(str, f[1]))}" for f in FAILS]
)
def test_one_field_change_fails_with_the_exact_message(policy, path, value, message):
    assert violations(policy, DEPLOYMENT, changed(HARDENED_OK, path, value)) == [message]


# (policy, props that fail the rule when known, path that becomes unknown, sentinel)
UNKNOWNS = [
    (images.prod_image_digest, changed(HARDENED_OK, (*C0, "image"), TAGGED), (*C0, "image"), UNKNOWN_STRING_VALUE),
    (
        images.prod_image_digest,
        changed(HARDENED_OK, (*C0, "image"), TAGGED),
        ("metadata", "labels"),
        UNKNOWN_STRING_VALUE,
    ),
    (
        pod_security.read_only_root,
        changed(HARDENED_OK, (*C0, "securityContext", "readOnlyRootFilesystem"), False),
        (*C0, "securityContext", "readOnlyRootFilesystem"),
        UNKNOWN_BOOLEAN_VALUE,
    ),
    (
        pod_security.read_only_root,
        changed(HARDENED_OK, (*C0, "securityContext", "readOnlyRootFilesystem"), False),
        (*C0, "securityContext"),
        UNKNOWN_STRING_VALUE,
    ),
    (
        pod_security.service_account_token,
        changed(HARDENED_OK, (*POD, "automountServiceAccountToken"), True),
        (*POD, "automountServiceAccountToken"),
        UNKNOWN_BOOLEAN_VALUE,
    ),
    (
        pod_security.service_account_token,
        changed(HARDENED_OK, (*POD, "automountServiceAccountToken"), DELETE),
        ("metadata", "name"),
        UNKNOWN_STRING_VALUE,
    ),
    (
        pod_security.service_account_token,
        changed(HARDENED_OK, (*POD, "volumes"), [TOKEN_VOLUME]),
        (*POD, "volumes", 0, "projected", "sources"),
        UNKNOWN_ARRAY_VALUE,
    ),
]


@pytest.mark.parametrize(
    ("policy", "props", "path", "sentinel"), UNKNOWNS, ids=[f"{u[0].name}:{'.'.join(map(str, u[2]))}" for u in UNKNOWNS]
)
def test_unknown_preview_value_neither_raises_nor_reports(policy, props, path, sentinel):
    assert violations(policy, DEPLOYMENT, changed(props, path, sentinel)) == []


@pytest.mark.parametrize(
    ("policy", "props", "path", "sentinel"), UNKNOWNS, ids=[f"{u[0].name}:{'.'.join(map(str, u[2]))}" for u in UNKNOWNS]
)
def test_the_unknown_variants_fail_once_known(policy, props, path, sentinel):
    """Only the unknown keeps each variant above quiet: known, it fails the rule."""
    assert violations(policy, DEPLOYMENT, props)


def test_every_new_rule_has_a_failing_case_and_an_unknown_case():
    names = {p.name for p in HAPPY}
    assert names == {f[0].name for f in FAILS} == {u[0].name for u in UNKNOWNS}


# Service account tokens: the configured exceptions -------------------------------------------


def test_the_metrics_adapter_keeps_its_token_by_default():
    with_token = changed(ADAPTER, (*POD, "automountServiceAccountToken"), DELETE)
    assert violations(pod_security.service_account_token, DEPLOYMENT, with_token) == []


def test_a_workload_listed_in_api_clients_keeps_its_token():
    with_token = changed(HARDENED_OK, (*POD, "automountServiceAccountToken"), True)
    config = {"apiClients": ["serving/t5"]}
    assert violations(pod_security.service_account_token, DEPLOYMENT, with_token, config) == []


def test_kube_system_pods_may_mount_their_token():
    with_token = changed(HARDENED_OK, (*POD, "automountServiceAccountToken"), DELETE)
    system = changed(with_token, ("metadata", "namespace"), "kube-system")
    assert violations(pod_security.service_account_token, DEPLOYMENT, system) == []


# Read-only roots: the configured exceptions ---------------------------------------------------

WRITABLE = changed(HARDENED_OK, (*C0, "securityContext", "readOnlyRootFilesystem"), DELETE)


def test_a_workload_in_writable_root_workloads_is_waived():
    config = {"writableRootWorkloads": ["serving/t5"]}
    assert violations(pod_security.read_only_root, DEPLOYMENT, WRITABLE, config) == []


def test_the_waiver_is_by_name_not_by_namespace():
    config = {"writableRootWorkloads": ["serving/other"]}
    assert violations(pod_security.read_only_root, DEPLOYMENT, WRITABLE, config) == [WRITABLE_ROOT]


def test_kube_system_may_write_to_its_roots():
    system = changed(WRITABLE, ("metadata", "namespace"), "kube-system")
    assert violations(pod_security.read_only_root, DEPLOYMENT, system) == []


def test_an_unknown_name_is_undecidable_only_when_waivers_are_configured():
    unnamed = changed(WRITABLE, ("metadata", "name"), UNKNOWN_STRING_VALUE)
    assert (
        violations(pod_security.read_only_root, DEPLOYMENT, unnamed, {"writableRootWorkloads": ["serving/x"]}),
        violations(pod_security.read_only_root, DEPLOYMENT, unnamed),
    ) == ([], [WRITABLE_ROOT])


# Prod digests: environments and the configured exceptions -------------------------------------

TAG_ONLY = changed(HARDENED_OK, (*C0, "image"), TAGGED)


def test_a_tagged_image_is_fine_outside_prod():
    dev = changed(TAG_ONLY, ("metadata", "labels", "gke-gpu-serving/environment"), "dev")
    assert violations(images.prod_image_digest, DEPLOYMENT, dev) == []


def test_an_unlabelled_workload_is_judged_as_prod():
    unlabelled = changed(TAG_ONLY, ("metadata", "labels"), {})
    assert violations(images.prod_image_digest, DEPLOYMENT, unlabelled) == [NOT_PINNED]


def test_a_repository_in_tag_allowed_may_run_from_a_tag():
    config = {"tagAllowed": ["us-central1-docker.pkg.dev/p/models/t5"]}
    assert violations(images.prod_image_digest, DEPLOYMENT, TAG_ONLY, config) == []


def test_the_metrics_adapter_image_may_run_from_its_tag_by_default():
    adapter = changed(TAG_ONLY, (*C0, "image"), "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0")
    assert violations(images.prod_image_digest, DEPLOYMENT, adapter) == []


def test_a_tag_and_a_digest_together_are_pinned():
    """The runtime pulls by the digest when both are given; the tag only documents the version."""
    assert violations(images.prod_image_digest, DEPLOYMENT, HARDENED_OK) == []


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        (f"gcr.io/a/b:1@{DIGEST}", "gcr.io/a/b"),
        ("localhost:5000/app:1.2", "localhost:5000/app"),
        ("localhost:5000/app", "localhost:5000/app"),
        ("nginx", "nginx"),
    ],
)
def test_the_packs_repository_reading_matches_the_workloads(image, repository):
    """The pack keeps its own copy (it imports nothing from the program); the two agree."""
    from workloads import images as workload_images

    assert images.image_repository(image) == workload_images.repository(image) == repository


def test_an_api_client_pattern_keeps_the_endpoint_pickers_token():
    # Default apiClients has "*/*-epp": every gateway model's endpoint picker watches the API.
    picker = changed(HARDENED_OK, (*POD, "automountServiceAccountToken"), True)
    picker = changed(picker, ("metadata", "name"), "mistral-7b-epp")
    other = changed(picker, ("metadata", "name"), "mistral-7b")
    found = (
        violations(pod_security.service_account_token, DEPLOYMENT, picker),
        len(violations(pod_security.service_account_token, DEPLOYMENT, other)),
    )
    assert found == ([], 1)
