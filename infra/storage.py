"""GCS buckets for model repositories: globally unique, private, versioned, safe by default.

Every bucket has uniform bucket-level access (IAM only, no object ACLs) and enforced public
access prevention, so no object can ever be made public. Versioning plus soft delete plus a
lifecycle rule that expires noncurrent versions give an undo window without keeping every old
model forever. Environments differ on purpose: ``forceDestroy`` only where config allows it
(dev; the rules refuse it elsewhere), and prod buckets are ``protect``-ed and retained on
delete, so no ``pulumi destroy`` can lose a model.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random
from pydantic import Field

from infra import naming
from infra.apis import ProjectApis
from infra.config import ComponentArgs

SUFFIX_BYTES = 4  # 8 hex chars: the bucket namespace is global
SECONDS_PER_DAY = 86_400


class BucketArgs(ComponentArgs):
    key: str
    prefix: str
    project: str
    location: str
    purpose: str
    force_destroy: bool = False
    protect: bool = False
    retain_on_delete: bool = False
    noncurrent_version_days: int = 30
    soft_delete_days: int = 7
    storage_class: str = "STANDARD"
    labels: dict[str, str] = Field(default_factory=dict)


def bucket_stem(prefix: str, key: str) -> str:
    """The bucket name before its random suffix, leaving room for ``-<8 hex>`` in 63 chars."""
    return naming.budget_name(prefix, key, max_len=naming.BUCKET_NAME_MAX - SUFFIX_BYTES * 2 - 1)


def lifecycle_rules(noncurrent_days: int) -> list[gcp.storage.BucketLifecycleRuleArgs]:
    """Delete a version once it has been noncurrent for ``noncurrent_days``; live objects stay."""
    return [
        gcp.storage.BucketLifecycleRuleArgs(
            action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
            condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                days_since_noncurrent_time=noncurrent_days, with_state="ARCHIVED"
            ),
        )
    ]


class ModelBucket(pulumi.ComponentResource):
    """One bucket and the random suffix that makes its name globally unique."""

    bucket: gcp.storage.Bucket
    name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: BucketArgs, *, apis: ProjectApis, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-gpu-serving:storage:ModelBucket", name, None, opts)
        data_opts = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.retain_on_delete)
        suffix = random.RandomId(
            f"{name}-suffix",
            byte_length=SUFFIX_BYTES,
            # A new suffix (and so a new bucket) only if the stem changes.
            keepers={"stem": bucket_stem(args.prefix, args.key)},
            opts=data_opts,
        )
        self.bucket = gcp.storage.Bucket(
            name,
            name=suffix.hex.apply(lambda h: f"{bucket_stem(args.prefix, args.key)}-{h}"),
            project=args.project,
            location=args.location.upper(),
            storage_class=args.storage_class,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=args.soft_delete_days * SECONDS_PER_DAY
            ),
            lifecycle_rules=lifecycle_rules(args.noncurrent_version_days),
            force_destroy=args.force_destroy,
            labels={**args.labels, "purpose": args.purpose},
            opts=apis.opts(gcp.storage.Bucket, data_opts),
        )
        self.name = self.bucket.name
        self.url = self.bucket.url
        self.register_outputs({"name": self.name, "url": self.url})
