"""IAM guardrails: non-authoritative grants only, no basic roles, nobody public, no key files.

pulumi-gcp names IAM resources ``<module>/<x>IAMMember`` / ``...IamMember`` (``member``),
``...IAMBinding`` / ``...IamBinding`` (``members``) and ``...IAMPolicy`` / ``...IamPolicy``
(``policyData``, a JSON document); the rules below match those shapes by type token so a grant
on any resource kind (project, bucket, service account, repository, ...) is covered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import UNKNOWN, elements, get, resource_policy

# Authoritative IAM on the resource hierarchy: each replaces every other holder of the role
# (IAMBinding) or the whole policy (IAMPolicy) of the project, folder or organization.
AUTHORITATIVE_HIERARCHY_IAM = (
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:folder/iAMBinding:IAMBinding",
    "gcp:folder/iAMPolicy:IAMPolicy",
    "gcp:organizations/iAMBinding:IAMBinding",
    "gcp:organizations/iAMPolicy:IAMPolicy",
)
# Long-lived credentials: a service-account key file, and the HMAC key (a service account's
# S3-style secret for Cloud Storage).
KEY_TYPES = ("gcp:serviceaccount/key:Key", "gcp:storage/hmacKey:HmacKey")
# Principals that mean "anyone" (https://cloud.google.com/iam/docs/principal-identifiers).
PUBLIC_PRINCIPALS = ("allUsers", "allAuthenticatedUsers")
# Storage ACL resources (entity / roleEntities name the grantee).
ACL_ENTITY_TYPES = (
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
)
ACL_ROLE_ENTITY_TYPES = (
    "gcp:storage/bucketACL:BucketACL",
    "gcp:storage/objectACL:ObjectACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
)


def _kind(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1].lower()


def is_iam_type(type_token: str) -> bool:
    """Any pulumi-gcp IAM member, binding or policy resource."""
    kind = _kind(type_token)
    return type_token.startswith("gcp:") and "iam" in kind and kind.endswith(("member", "binding", "policy"))


def grants(props: Any) -> list[tuple[Any, list[Any]]] | Any:
    """``(role, members)`` of an IAM member/binding/policy resource; UNKNOWN when unknowable."""
    if get(props, "policyData") is not None:
        data = get(props, "policyData")
        if data is UNKNOWN:
            return UNKNOWN
        try:
            doc = json.loads(data)
        except (TypeError, ValueError):
            return []
        return [(b.get("role"), list(b.get("members") or [])) for b in doc.get("bindings") or []]
    role = get(props, "role")
    members = elements(props, "members")
    if members is UNKNOWN:
        members = [UNKNOWN]
    member = get(props, "member")
    if member is not None:
        members = [*members, member]
    return [(role, members)]


def check_authoritative(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # The type alone is the violation: every such resource removes grants it does not list.
    yield (
        "authoritative IAM (IAMBinding/IAMPolicy) on a project, folder or organization removes every "
        "holder it does not list, including Google-managed service agents; grant with IAMMember instead"
    )


def check_primitive_roles(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    found = grants(props)
    if found is UNKNOWN:
        return
    forbidden = set(config["forbiddenRoles"])
    for role, _members in found:
        if role is not UNKNOWN and role in forbidden:
            yield f"grants the basic role {role}, which covers nearly every service; grant a predefined role scoped to the task"


def check_public_members(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    found = grants(props)
    if found is UNKNOWN:
        return
    for role, members in found:
        for member in members:
            if member is not UNKNOWN and member in PUBLIC_PRINCIPALS:
                who = "anyone on the internet" if member == "allUsers" else "anyone with a Google account"
                yield f"grants {role} to {member}: {who} gets it; remove the member"


def check_public_acl(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    entity = get(props, "entity")
    if entity is not UNKNOWN and entity in PUBLIC_PRINCIPALS:
        yield f"ACL entry for {entity}: the objects become readable by anyone; remove it"
    role_entities = elements(props, "roleEntities")
    if role_entities is UNKNOWN:
        return
    for entry in role_entities:
        if isinstance(entry, str) and entry.split(":", 1)[-1] in PUBLIC_PRINCIPALS:
            yield f"ACL entry {entry}: the objects become readable by anyone; remove it"


def _public_check(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # ACL resources carry entity/roleEntities; IAM resources carry member(s)/policyData.
    if get(props, "entity") is not None or get(props, "roleEntities") is not None:
        yield from check_public_acl(props, config)
    else:
        yield from check_public_members(props, config)


def check_keys(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    yield (
        "creates a long-lived service-account key, which can leak and never expires; use Workload "
        "Identity (pods) or service-account impersonation (people, CI) instead"
    )


no_authoritative_iam = resource_policy(
    name="iam-no-authoritative-project-iam",
    description="Project, folder and organization IAM is granted with non-authoritative IAMMember, never IAMBinding/IAMPolicy.",
    types=AUTHORITATIVE_HIERARCHY_IAM,
    check=check_authoritative,
    level=EnforcementLevel.MANDATORY,
)

no_primitive_roles = resource_policy(
    name="iam-no-primitive-roles",
    description="No IAM grant uses a basic (primitive) role such as roles/owner or roles/editor.",
    types=is_iam_type,
    check=check_primitive_roles,
    level=EnforcementLevel.MANDATORY,
    config={
        "forbiddenRoles": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["roles/owner", "roles/editor"],
            "description": "Roles no grant may use.",
        }
    },
)

no_public_members = resource_policy(
    name="iam-no-public-members",
    description="No IAM grant or storage ACL names allUsers or allAuthenticatedUsers.",
    types=lambda t: is_iam_type(t) or t in ACL_ENTITY_TYPES or t in ACL_ROLE_ENTITY_TYPES,
    check=_public_check,
    level=EnforcementLevel.MANDATORY,
)

no_service_account_keys = resource_policy(
    name="iam-no-service-account-keys",
    description="The stack creates no service-account keys or HMAC keys.",
    types=KEY_TYPES,
    check=check_keys,
    level=EnforcementLevel.MANDATORY,
)

POLICIES = [no_authoritative_iam, no_primitive_roles, no_public_members, no_service_account_keys]
