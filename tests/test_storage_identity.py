"""Model buckets, Workload Identity and the image registry (issue: model storage and identity)."""

from __future__ import annotations

import pytest

from infra import config, identity, platform_args, storage
from tests.conftest import STACKS, raw_with, run_raw, stack_capture
from tooling.offline import read_stack_config

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
GSA = "gcp:serviceaccount/account:Account"
GSA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
KSA = "kubernetes:core/v1:ServiceAccount"
NS = "gke-gpu-serving"
AUTHORITATIVE = ("iAMBinding:IAMBinding", "iAMPolicy:IAMPolicy", "IAMBinding", "IAMPolicy")


def components(capture, type_token):
    return [r for r in capture.resources if r.type == type_token]


def children(capture, parent):
    return [r for r in capture.resources if r.parent == parent.urn]


# Buckets ------------------------------------------------------------------------------------------


def test_every_bucket_in_every_stack_is_uniform_and_never_public(any_stack):
    _, capture = any_stack
    buckets = capture.of_type(BUCKET)
    assert buckets
    for b in buckets:
        assert b.inputs["uniformBucketLevelAccess"] is True
        assert b.inputs["publicAccessPrevention"] == "enforced"


def test_every_bucket_is_versioned_with_soft_delete_and_noncurrent_expiry(any_stack):
    _, capture = any_stack
    for b in capture.of_type(BUCKET):
        assert b.inputs["versioning"] == {"enabled": True}
        assert b.inputs["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 86_400
        (rule,) = b.inputs["lifecycleRules"]
        assert rule["action"]["type"] == "Delete"
        assert rule["condition"]["daysSinceNoncurrentTime"] >= 1
        assert rule["condition"]["withState"] == "ARCHIVED"


def test_bucket_location_matches_the_cluster_region(any_stack):
    _, capture = any_stack
    for b in capture.of_type(BUCKET):
        assert b.inputs["location"] == "US-CENTRAL1"


def test_bucket_names_get_a_random_suffix_and_fit_63_chars(any_stack):
    _, capture = any_stack
    for b in capture.of_type(BUCKET):
        suffix = next(r for r in capture.of_type("random:index/randomId:RandomId") if r.name == f"{b.name}-suffix")
        assert suffix.inputs["byteLength"] == 4
        assert len(b.inputs["name"]) <= 63 and b.inputs["name"].endswith("-a1b2c3d4")


def test_prod_buckets_are_protected_and_retained():
    for b in stack_capture("prod").of_type(BUCKET):
        assert b.protect and b.retain_on_delete
        assert b.inputs["forceDestroy"] is False


def test_dev_model_bucket_can_be_destroyed():
    (b,) = stack_capture("dev").of_type(BUCKET)
    assert b.inputs["forceDestroy"] is True
    assert not b.protect and not b.retain_on_delete


def test_buckets_carry_the_stack_labels_and_their_purpose():
    for b in stack_capture("prod").of_type(BUCKET):
        assert b.inputs["labels"]["environment"] == "prod"
        assert b.inputs["labels"]["purpose"] in ("model-repository", "converted-models")


def test_bucket_stem_leaves_room_for_the_suffix():
    assert len(storage.bucket_stem("p" * 20 + "-prod", "k" * 20)) <= 63 - 9


# Workload Identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_serving_ksa_maps_to_exactly_one_identity(stack):
    capture = stack_capture(stack)
    for ident in components(capture, "gke-gpu-serving:identity:WorkloadIdentity"):
        kids = children(capture, ident)
        gsas = [r for r in kids if r.type == GSA]
        ksas = [r for r in kids if r.type == KSA]
        wi = [r for r in kids if r.type == GSA_MEMBER]
        assert len(gsas) == 1 and len(ksas) == 1 and len(wi) == 1, ident.name
        ksa = ksas[0].inputs["metadata"]
        email = f"{gsas[0].inputs['accountId']}@replace-with-your-project-id.iam.gserviceaccount.com"
        assert ksa["annotations"] == {"iam.gke.io/gcp-service-account": email}
        assert wi[0].inputs["role"] == "roles/iam.workloadIdentityUser"
        assert wi[0].inputs["member"] == (
            f"serviceAccount:replace-with-your-project-id.svc.id.goog[{ksa['namespace']}/{ksa['name']}]"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_serving_identities_read_only_their_own_buckets(stack):
    capture = stack_capture(stack)
    cfg = config.parse(_raw_of(stack))
    for model in cfg.models:
        ident = capture.one("gke-gpu-serving:identity:WorkloadIdentity", f"id-{model.name}")
        grants = [r for r in children(capture, ident) if r.type == BUCKET_MEMBER]
        buckets = {b.name.removeprefix("bucket-"): b.inputs["name"] for b in capture.of_type(BUCKET)}
        expected = [buckets[key] for key in platform_args.model_reads(model)]
        assert sorted(g.inputs["bucket"] for g in grants) == sorted(expected)
        assert all(g.inputs["role"] == "roles/storage.objectViewer" for g in grants)


def test_gsa_ids_fit_gcps_6_to_30_rule(any_stack):
    _, capture = any_stack
    for gsa in capture.of_type(GSA):
        assert 6 <= len(gsa.inputs["accountId"]) <= 30


def test_only_the_converter_writes_and_only_to_converted_models():
    capture = stack_capture("prod")
    writers = [m for m in capture.of_type(BUCKET_MEMBER) if m.inputs["role"] != "roles/storage.objectViewer"]
    assert [(w.name, w.inputs["role"]) for w in writers] == [
        ("id-ft-converter-converted-objectUser", "roles/storage.objectUser")
    ]


def test_no_stack_has_project_storage_roles_or_authoritative_iam(any_stack):
    _, capture = any_stack
    for res in capture.resources:
        assert not res.type.endswith(AUTHORITATIVE), res.type
        if res.type == "gcp:projects/iAMMember:IAMMember":
            assert not res.inputs["role"].startswith("roles/storage."), res.name


def test_bucket_grants_give_writers_object_user_and_readers_object_viewer_once():
    grants = identity.bucket_grants(("a", "b", "a"), ("b",))
    assert grants == [("b", "roles/storage.objectUser"), ("a", "roles/storage.objectViewer")]


def test_direct_mode_grants_the_wif_principal_and_creates_no_gsa():
    capture = run_raw(raw_with(identity={"mode": "direct"}))
    ident = capture.one("gke-gpu-serving:identity:WorkloadIdentity", "id-t5-small")
    kids = children(capture, ident)
    assert not [r for r in kids if r.type == GSA]
    (grant,) = [r for r in kids if r.type == BUCKET_MEMBER]
    assert grant.inputs["member"] == (
        "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "replace-with-your-project-id.svc.id.goog/subject/ns/serving/sa/t5-small"
    )
    (ksa,) = [r for r in kids if r.type == KSA]
    assert "annotations" not in ksa.inputs["metadata"]


def test_predictor_defaults_to_seed_001s_ksa_name():
    model = config.parse(raw_with()).models[0].model_copy(update={"server": "predictor"})
    assert model.ksa.name == "aiinfra-gke-sa"


def test_existing_ksa_is_annotated_not_recreated():
    raw = raw_with()
    raw["models"][0]["serviceAccount"] = {"name": "my-other-ksa", "create": False}
    capture = run_raw(raw)
    assert not [k for k in capture.of_type(KSA) if k.inputs["metadata"]["namespace"] == "serving"]
    (patch,) = capture.of_type("kubernetes:core/v1:ServiceAccountPatch")
    assert patch.inputs["metadata"]["name"] == "my-other-ksa"
    assert "iam.gke.io/gcp-service-account" in patch.inputs["metadata"]["annotations"]


def test_literal_gs_source_gets_a_reader_grant_on_that_bucket():
    raw = raw_with()
    raw["models"][0]["source"] = "gs://shared-models-bucket/t5"
    capture = run_raw(raw)
    (grant,) = capture.of_type(BUCKET_MEMBER)
    assert grant.inputs["bucket"] == "shared-models-bucket"


def test_serving_namespace_is_created_once(any_stack):
    _, capture = any_stack
    names = [n.inputs["metadata"]["name"] for n in capture.of_type("kubernetes:core/v1:Namespace")]
    assert sorted(names) == ["custom-metrics", "serving"]


# Registry -----------------------------------------------------------------------------------------


def test_registry_has_model_and_app_repos_in_region_with_untagged_cleanup(any_stack):
    _, capture = any_stack
    repos = [
        r
        for r in capture.of_type("gcp:artifactregistry/repository:Repository")
        if r.inputs["mode"] == "STANDARD_REPOSITORY"
    ]
    assert sorted(r.name for r in repos) == ["registry-apps", "registry-models"]
    for r in repos:
        assert r.inputs["location"] == "us-central1" and r.inputs["format"] == "DOCKER"
        (policy,) = r.inputs["cleanupPolicies"]
        assert policy["action"] == "DELETE" and policy["condition"]["tagState"] == "UNTAGGED"
        assert r.inputs["cleanupPolicyDryRun"] is False


def test_registry_read_access_is_for_the_node_service_account_only(any_stack):
    _, capture = any_stack
    for m in capture.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"):
        assert m.inputs["role"] == "roles/artifactregistry.reader"
        assert m.inputs["member"].startswith("serviceAccount:gpu-serving-") and "-nodes@" in m.inputs["member"]


def test_outputs_list_buckets_registries_and_identity_pairs(any_stack):
    _, capture = any_stack
    assert all(url.startswith("gs://") for url in capture.outputs["buckets"].values())
    assert all(".pkg.dev/" in url for url in capture.outputs["registries"].values())
    for pair in capture.outputs["identities"]:
        assert pair["ksa"].startswith("serving/") and pair["identity"].endswith(".iam.gserviceaccount.com")


# Rejected inputs ------------------------------------------------------------------------------------


def _lines(raw):
    with pytest.raises(config.ConfigError) as info:
        config.parse(raw)
    return info.value.lines


def test_unknown_bucket_reference_in_a_model_source_is_rejected():
    raw = raw_with()
    raw["models"][0]["source"] = "gs://{modles}/t5"
    (line,) = _lines(raw)
    assert line.startswith(f"{NS}:models[0].source") and "does not declare" in line


def test_unknown_bucket_reference_in_an_access_grant_is_rejected():
    raw = raw_with(storage={"buckets": [{"name": "models"}], "access": [{"workload": "conv", "writes": ["converted"]}]})
    (line,) = _lines(raw)
    assert line.startswith(f"{NS}:storage.access[0].writes[0]") and "declared: models" in line


def test_negative_retention_is_rejected():
    (line,) = _lines(raw_with(storage={"buckets": [{"name": "models", "noncurrentVersionDays": -1}]}))
    assert line.startswith(f"{NS}:storage.buckets[0].noncurrentVersionDays")


def test_soft_delete_outside_gcs_range_is_rejected():
    (line,) = _lines(raw_with(storage={"buckets": [{"name": "models", "softDeleteDays": 3}]}))
    assert line.startswith(f"{NS}:storage.buckets[0].softDeleteDays") and "7-90" in line


def test_ksa_name_that_is_not_dns1123_is_rejected():
    raw = raw_with()
    raw["models"][0]["serviceAccount"] = {"name": "My_KSA"}
    (line,) = _lines(raw)
    assert line.startswith(f"{NS}:models[0].serviceAccount.name") and "DNS-1123" in line


def test_unknown_identity_mode_is_rejected():
    (line,) = _lines(raw_with(identity={"mode": "workload-identity"}))
    assert line.startswith(f"{NS}:identity.mode") and "'direct'" in line


def test_force_destroy_outside_dev_is_rejected():
    raw = raw_with(environment="staging", storage={"buckets": [{"name": "models", "forceDestroy": True}]})
    (line,) = _lines(raw)
    assert line.startswith(f"{NS}:storage.buckets[0].forceDestroy") and "only in dev" in line


def test_unprotected_prod_bucket_is_rejected():
    raw = raw_with(
        environment="prod",
        cluster={"mode": "standard", "location": "us-central1-a", "deletionProtection": True},
        storage={"buckets": [{"name": "models", "protect": False}]},
    )
    (line,) = _lines(raw)
    assert line.startswith(f"{NS}:storage.buckets[0].protect")


def test_duplicate_bucket_keys_are_rejected():
    (line,) = _lines(raw_with(storage={"buckets": [{"name": "models"}, {"name": "models"}]}))
    assert line.startswith(f"{NS}:storage.buckets[1].name") and "repeats storage.buckets[0].name" in line


def test_two_workloads_sharing_one_ksa_is_rejected():
    raw = raw_with()
    raw["models"].append({**raw["models"][0], "name": "t5-base", "serviceAccount": {"name": "t5-small"}})
    assert any("used by both t5-small and t5-base" in line for line in _lines(raw))


def _raw_of(stack: str) -> dict:
    """A stack file's config as the raw tree ``config.parse`` takes."""
    cfg, _ = read_stack_config(stack)
    return {k.split(":", 1)[1]: config.decode_value(v) for k, v in cfg.items()}


def test_staging_buckets_are_retained_so_destroy_can_finish_with_models_in_them():
    # A bucket with live or noncurrent objects cannot be deleted (JSON API buckets.delete), and
    # staging's is versioned and not forceDestroy: it must leave the state instead.
    for b in stack_capture("staging").of_type(BUCKET):
        assert b.retain_on_delete and not b.protect
        assert b.inputs["forceDestroy"] is False


def test_direct_identity_with_only_the_metrics_adapter_plans():
    capture = run_raw(raw_with(identity={"mode": "direct"}, models=[], storage={"buckets": []}))
    members = capture.of_type("gcp:projects/iAMMember:IAMMember")
    (grant,) = [m for m in members if m.inputs["role"] == "roles/monitoring.viewer"]
    assert grant.inputs["member"].startswith("principal://iam.googleapis.com/projects/123456789012/")
    assert grant.inputs["member"].endswith("/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter")
