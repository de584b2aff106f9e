"""The rules on buckets and IAM: their rows of the tables ``tests/test_policies_rules.py`` runs (a
happy path, one-field changes with the exact message, preview-time unknowns), the IAM rules
decided by the resource type alone, and the details the tables cannot show. The rules on GKE
clusters and GPU node pools are ``tests/test_policies_rules_gke.py``."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import iam, storage
from tests.policy_harness import (
    BUCKET,
    BUCKET_OK,
    CLUSTER,
    DELETE,
    MEMBER_OK,
    PROJECT_MEMBER,
    changed,
    violations,
)

# (policy, type, happy-path props)
HAPPY = [
    (storage.uniform_access, BUCKET, BUCKET_OK),
    (storage.public_access_prevention, BUCKET, BUCKET_OK),
    (storage.prod_versioning, BUCKET, BUCKET_OK),
    (storage.prod_soft_delete, BUCKET, BUCKET_OK),
    (storage.force_destroy, BUCKET, BUCKET_OK),
    (iam.no_authoritative_iam, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_primitive_roles, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_public_members, PROJECT_MEMBER, MEMBER_OK),
    (iam.no_service_account_keys, "gcp:serviceaccount/account:Account", {"accountId": "serving"}),
]

# (policy, type, props, path, new value, exact message)
FAILS = [
    (
        storage.uniform_access,
        BUCKET,
        BUCKET_OK,
        ("uniformBucketLevelAccess",),
        False,
        "bucket allows object ACLs, which can make single objects public; set "
        "uniformBucketLevelAccess true so only IAM decides access",
    ),
    (
        storage.public_access_prevention,
        BUCKET,
        BUCKET_OK,
        ("publicAccessPrevention",),
        "inherited",
        "publicAccessPrevention is inherited: a grant to allUsers would make the models "
        "public; set publicAccessPrevention to enforced",
    ),
    (
        storage.prod_versioning,
        BUCKET,
        BUCKET_OK,
        ("versioning",),
        DELETE,
        "a prod bucket must keep object versions so an overwritten model can be restored; set versioning.enabled true",
    ),
    (
        storage.prod_soft_delete,
        BUCKET,
        BUCKET_OK,
        ("softDeletePolicy", "retentionDurationSeconds"),
        0,
        "a prod bucket keeps deleted objects 0 days; soft delete must keep them at least 7 days "
        "(softDeletePolicy.retentionDurationSeconds >= 604800)",
    ),
    (
        storage.force_destroy,
        BUCKET,
        BUCKET_OK,
        ("forceDestroy",),
        True,
        "forceDestroy lets pulumi destroy delete every object of this prod bucket; set it false",
    ),
    (
        iam.no_primitive_roles,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("role",),
        "roles/editor",
        "grants the basic role roles/editor, which covers nearly every service; grant a predefined role scoped to the task",
    ),
    (
        iam.no_public_members,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("member",),
        "allUsers",
        "grants roles/storage.objectViewer to allUsers: anyone on the internet gets it; remove the member",
    ),
    (
        iam.no_public_members,
        PROJECT_MEMBER,
        MEMBER_OK,
        ("member",),
        "allAuthenticatedUsers",
        "grants roles/storage.objectViewer to allAuthenticatedUsers: anyone with a Google account gets it; "
        "remove the member",
    ),
]

# (policy, type, props, path) whose value becomes unknown at preview; the sentinel fits the field.
UNKNOWNS = [
    (storage.uniform_access, BUCKET, BUCKET_OK, ("uniformBucketLevelAccess",), UNKNOWN_BOOLEAN_VALUE),
    (storage.public_access_prevention, BUCKET, BUCKET_OK, ("publicAccessPrevention",), UNKNOWN_STRING_VALUE),
    (storage.prod_versioning, BUCKET, BUCKET_OK, ("versioning", "enabled"), UNKNOWN_BOOLEAN_VALUE),
    (storage.prod_soft_delete, BUCKET, BUCKET_OK, ("softDeletePolicy",), UNKNOWN_STRING_VALUE),
    (storage.force_destroy, BUCKET, BUCKET_OK, ("labels",), UNKNOWN_STRING_VALUE),
    (iam.no_primitive_roles, PROJECT_MEMBER, MEMBER_OK, ("role",), UNKNOWN_STRING_VALUE),
    (iam.no_public_members, PROJECT_MEMBER, MEMBER_OK, ("member",), UNKNOWN_STRING_VALUE),
]

# Resources that fail the rule unless the unknown value (their environment or namespace) is what
# keeps the rule from deciding.
FAILING_OTHERWISE = {
    ("bucket-no-force-destroy", ("labels",)): changed(BUCKET_OK, ("forceDestroy",), True),
}


# Rules decided by the resource type alone ------------------------------------------------------


@pytest.mark.parametrize("type_token", iam.AUTHORITATIVE_HIERARCHY_IAM)
def test_authoritative_hierarchy_iam_fails_by_type(type_token):
    assert violations(iam.no_authoritative_iam, type_token, {"role": UNKNOWN_STRING_VALUE}) == [
        "authoritative IAM (IAMBinding/IAMPolicy) on a project, folder or organization removes every "
        "holder it does not list, including Google-managed service agents; grant with IAMMember instead"
    ]


def test_bucket_level_iam_binding_is_not_a_hierarchy_binding():
    props = {"bucket": "b", "role": "roles/storage.objectViewer", "members": ["user:a@b.com"]}
    assert violations(iam.no_authoritative_iam, "gcp:storage/bucketIAMBinding:BucketIAMBinding", props) == []


@pytest.mark.parametrize("type_token", iam.KEY_TYPES)
def test_service_account_keys_fail_by_type(type_token):
    assert violations(iam.no_service_account_keys, type_token, {"serviceAccountId": UNKNOWN_STRING_VALUE}) == [
        "creates a long-lived service-account key, which can leak and never expires; use Workload "
        "Identity (pods) or service-account impersonation (people, CI) instead"
    ]


# Details that the one-field table cannot show --------------------------------------------------


def test_iam_policy_documents_are_read_for_roles_and_members():
    doc = '{"bindings": [{"role": "roles/owner", "members": ["allUsers"]}]}'
    props = {"bucket": "b", "policyData": doc}
    kind = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
    assert len(violations(iam.no_primitive_roles, kind, props)) == 1
    assert len(violations(iam.no_public_members, kind, props)) == 1


def test_binding_members_list_is_checked():
    props = {"bucket": "b", "role": "roles/storage.objectViewer", "members": ["user:a@b.com", "allUsers"]}
    assert violations(iam.no_public_members, "gcp:storage/bucketIAMBinding:BucketIAMBinding", props) == [
        "grants roles/storage.objectViewer to allUsers: anyone on the internet gets it; remove the member"
    ]


def test_public_storage_acl_entry_is_reported():
    props = {"bucket": "b", "entity": "allUsers", "role": "READER"}
    assert violations(iam.no_public_members, "gcp:storage/bucketAccessControl:BucketAccessControl", props) == [
        "ACL entry for allUsers: the objects become readable by anyone; remove it"
    ]


def test_primitive_roles_are_configurable():
    props = changed(MEMBER_OK, ("role",), "roles/viewer")
    assert violations(iam.no_primitive_roles, PROJECT_MEMBER, props) == []
    config = {"forbiddenRoles": ["roles/owner", "roles/editor", "roles/viewer"]}
    assert len(violations(iam.no_primitive_roles, PROJECT_MEMBER, props, config)) == 1


def test_soft_delete_defaults_to_seven_days_when_not_set():
    props = changed(BUCKET_OK, ("softDeletePolicy",), DELETE)
    assert violations(storage.prod_soft_delete, BUCKET, props) == []
    assert len(violations(storage.prod_soft_delete, BUCKET, props, {"minRetentionDays": 30})) == 1


def test_rules_ignore_other_resource_types():
    assert violations(storage.uniform_access, CLUSTER, {"uniformBucketLevelAccess": False}) == []
