"""Cloud Storage bucket guardrails (``gcp:storage/bucket:Bucket``): private, and undoable in prod."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import UNKNOWN, environments_config, gcp_environment, get, in_scope, number, resource_policy

BUCKET = "gcp:storage/bucket:Bucket"
SECONDS_PER_DAY = 86_400
# A bucket created without softDeletePolicy gets GCS's default 7-day soft delete
# (https://cloud.google.com/storage/docs/soft-delete#retention-duration).
GCS_DEFAULT_SOFT_DELETE_DAYS = 7


def check_uniform_access(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    uniform = get(props, "uniformBucketLevelAccess")
    if uniform is UNKNOWN or uniform is True:
        return
    yield (
        "bucket allows object ACLs, which can make single objects public; set "
        "uniformBucketLevelAccess true so only IAM decides access"
    )


def check_public_access_prevention(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pap = get(props, "publicAccessPrevention")
    if pap is UNKNOWN or pap == "enforced":
        return
    yield (
        f"publicAccessPrevention is {pap or 'not set (inherited)'}: a grant to allUsers would make "
        "the models public; set publicAccessPrevention to enforced"
    )


def check_versioning(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = gcp_environment(props, "labels")
    if not in_scope(env, config["environments"]):
        return
    enabled = get(props, "versioning", "enabled")
    if enabled is UNKNOWN or enabled is True:
        return
    yield f"a {env} bucket must keep object versions so an overwritten model can be restored; set versioning.enabled true"


def check_soft_delete(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    env = gcp_environment(props, "labels")
    if not in_scope(env, config["environments"]):
        return
    seconds = number(get(props, "softDeletePolicy", "retentionDurationSeconds"))
    if seconds is UNKNOWN:
        return
    days = GCS_DEFAULT_SOFT_DELETE_DAYS if seconds is None else seconds / SECONDS_PER_DAY
    minimum = number(config["minRetentionDays"])
    if days < minimum:
        yield (
            f"a {env} bucket keeps deleted objects {number(days)} days; soft delete must keep them at least "
            f"{minimum} days (softDeletePolicy.retentionDurationSeconds >= {minimum * SECONDS_PER_DAY})"
        )


def check_force_destroy(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if get(props, "forceDestroy") is not True:
        return
    env = gcp_environment(props, "labels")
    if env is UNKNOWN or env in set(config["allowedEnvironments"]):
        return
    yield f"forceDestroy lets pulumi destroy delete every object of this {env} bucket; set it false"


uniform_access = resource_policy(
    name="bucket-uniform-access",
    description="Buckets use uniform bucket-level access: IAM only, no per-object ACLs.",
    types=[BUCKET],
    check=check_uniform_access,
    level=EnforcementLevel.MANDATORY,
)

public_access_prevention = resource_policy(
    name="bucket-public-access-prevention",
    description="Buckets enforce public access prevention, so no grant can make them public.",
    types=[BUCKET],
    check=check_public_access_prevention,
    level=EnforcementLevel.MANDATORY,
)

prod_versioning = resource_policy(
    name="bucket-prod-versioning",
    description="Production buckets keep object versions.",
    types=[BUCKET],
    check=check_versioning,
    level=EnforcementLevel.MANDATORY,
    config={"environments": environments_config(["prod"], "whose buckets must be versioned")},
)

prod_soft_delete = resource_policy(
    name="bucket-prod-soft-delete",
    description="Production buckets soft-delete objects for a minimum number of days.",
    types=[BUCKET],
    check=check_soft_delete,
    level=EnforcementLevel.MANDATORY,
    config={
        "environments": environments_config(["prod"], "whose buckets must soft-delete"),
        "minRetentionDays": {
            "type": "integer",
            "minimum": 1,
            "default": 7,
            "description": "Shortest soft-delete retention (days) a bucket of those environments may have.",
        },
    },
)

force_destroy = resource_policy(
    name="bucket-no-force-destroy",
    description="Only disposable environments may let pulumi destroy empty a bucket (forceDestroy).",
    types=[BUCKET],
    check=check_force_destroy,
    level=EnforcementLevel.MANDATORY,
    config={
        "allowedEnvironments": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["dev"],
            "description": "Environments whose buckets may set forceDestroy.",
        }
    },
)

POLICIES = [uniform_access, public_access_prevention, prod_versioning, prod_soft_delete, force_destroy]
