"""``gke-gpu-serving:storage`` and ``identity``: model buckets and what destroy does to them,
per-workload bucket access, Workload Identity mode and namespace (``registry`` is
:mod:`infra.config.registry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra import naming
from infra.config.base import MODEL_NAME_MAX, Problem, _dns_name, _Model, _repeats

if TYPE_CHECKING:
    from infra.config.stack import StackConfig


BucketPurpose = Literal["model-repository", "converted-models"]
IdentityMode = Literal["service-account", "direct"]
BUCKET_KEY_MAX = 20

# GCS soft delete: 0 (off) or 7-90 days. Source: https://cloud.google.com/storage/docs/soft-delete
SOFT_DELETE_MIN_DAYS, SOFT_DELETE_MAX_DAYS = 7, 90


def protect_default(environment: str, protect: bool | None) -> bool:
    """``protect`` of a bucket: as configured, else on in prod."""
    return protect if protect is not None else environment == "prod"


def retain_default(environment: str, retain_on_delete: bool | None) -> bool:
    """``retainOnDelete`` of a bucket: as configured, else on outside dev. A bucket that holds
    objects (live or noncurrent versions) cannot be deleted ("The request fails if there are any
    live or noncurrent objects in the bucket", Cloud Storage JSON API buckets.delete), so a
    non-dev bucket leaves the state on destroy and keeps its models, instead of failing it."""
    return retain_on_delete if retain_on_delete is not None else environment != "dev"


BUCKET_FATES = {
    "deleted": "deleted with every object in it (forceDestroy)",
    "retained": "left in place with its objects; removed from the stack's state (retainOnDelete)",
    "protected": "protected: skipped by pulumi destroy --exclude-protected, kept in the state with its objects",
    "blocks": "deleted only if empty: a destroy fails at this bucket once it holds objects",
}


def bucket_fate(environment: str, force_destroy: bool, protect: bool | None, retain_on_delete: bool | None) -> str:
    """What ``pulumi destroy`` does to a bucket: a key of :data:`BUCKET_FATES`. Pure, shared by the
    stack and the teardown gate so the two cannot disagree."""
    if protect_default(environment, protect):
        return "protected"
    if retain_default(environment, retain_on_delete):
        return "retained"
    return "deleted" if force_destroy else "blocks"


class BucketConfig(_Model):
    """One GCS bucket of the stack; its physical name gets a random suffix."""

    name: str = Field(description="key other config refers to, e.g. gs://{models}/path")
    purpose: BucketPurpose = "model-repository"
    force_destroy: bool = False
    protect: bool | None = Field(None, description="default: true in prod")
    retain_on_delete: bool | None = Field(None, description="default: true in prod")
    noncurrent_version_days: int = Field(30, ge=1)
    soft_delete_days: int = 7
    storage_class: Literal["STANDARD", "NEARLINE"] = "STANDARD"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, BUCKET_KEY_MAX, "bucket key")

    @field_validator("soft_delete_days")
    @classmethod
    def _soft_delete(cls, value: int) -> int:
        if value != 0 and not SOFT_DELETE_MIN_DAYS <= value <= SOFT_DELETE_MAX_DAYS:
            raise ValueError(
                f"GCS soft delete keeps objects 0 (off) or {SOFT_DELETE_MIN_DAYS}-{SOFT_DELETE_MAX_DAYS} days, not {value}"
            )
        return value


class AccessGrant(_Model):
    """Bucket access for a workload that is not a served model (conversion jobs, tools)."""

    workload: str
    namespace: str | None = None
    service_account: str | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str) -> str:
        return _dns_name(value, MODEL_NAME_MAX, "workload name")

    @field_validator("namespace", "service_account")
    @classmethod
    def _k8s_names(cls, value: str | None) -> str | None:
        return None if value is None else _dns_name(value, naming.K8S_NAME_MAX, "Kubernetes name")


class StorageConfig(_Model):
    buckets: tuple[BucketConfig, ...] = ()
    access: tuple[AccessGrant, ...] = ()


class IdentityConfig(_Model):
    """How pods get Google credentials (Workload Identity)."""

    # service-account: KSA -> dedicated GSA (annotation + roles/iam.workloadIdentityUser).
    # direct: IAM grants name the KSA itself as a Workload Identity Federation principal.
    mode: IdentityMode = "service-account"
    namespace: str = "serving"

    @field_validator("namespace")
    @classmethod
    def _ns(cls, value: str) -> str:
        return _dns_name(value, naming.K8S_NAME_MAX, "namespace")


def _storage_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    keys = [b.name for b in cfg.storage.buckets]
    known = ", ".join(keys) or "none declared"
    repeated = _repeats(keys)
    for i, bucket in enumerate(cfg.storage.buckets):
        at = ("storage", "buckets", i)
        if i in repeated:
            problems.append(
                Problem(
                    (*at, "name"),
                    bucket.name,
                    f"repeats storage.buckets[{repeated[i]}].name; bucket keys must be unique",
                )
            )
        if bucket.force_destroy and cfg.environment != "dev":
            problems.append(
                Problem(
                    (*at, "forceDestroy"),
                    True,
                    f"would let pulumi destroy delete every object in {cfg.environment}; allowed only in dev, set it false",
                )
            )
        if cfg.environment == "prod" and (bucket.protect is False or bucket.retain_on_delete is False):
            field = "protect" if bucket.protect is False else "retainOnDelete"
            problems.append(
                Problem(
                    (*at, field),
                    False,
                    "prod buckets are protected and retained so no destroy can lose a model; remove the override",
                )
            )
    for i, model in enumerate(cfg.models):
        ref = model.bucket_ref
        if ref is not None and cfg.bucket(ref) is None:
            problems.append(
                Problem(
                    ("models", i, "source"),
                    model.source,
                    f"refers to bucket {{{ref}}}, which storage.buckets does not declare (declared: {known}); "
                    "add it or use a literal gs://bucket-name",
                )
            )
    workloads = [m.name for m in cfg.models]
    for i, grant in enumerate(cfg.storage.access):
        at = ("storage", "access", i)
        if grant.workload in workloads:
            problems.append(
                Problem(
                    (*at, "workload"),
                    grant.workload,
                    "is a served model, whose reads come from its source; give this grant another workload name",
                )
            )
        for verb in ("reads", "writes"):
            for j, key in enumerate(getattr(grant, verb)):
                if cfg.bucket(key) is None:
                    problems.append(
                        Problem(
                            (*at, verb, j),
                            key,
                            f"is not a bucket key of storage.buckets (declared: {known}); fix the key or declare the bucket",
                        )
                    )
    subjects = identity_subjects(cfg)
    for i, first in _repeats([f"{ns}/{ksa}" for _, ns, ksa in subjects]).items():
        owner, ns, ksa = subjects[i]
        if subjects[first][0] != owner:
            problems.append(
                Problem(
                    ("models",),
                    ksa,
                    f"Kubernetes service account {ns}/{ksa} is used by both {subjects[first][0]} and {owner}; "
                    "each workload needs its own so each maps to exactly one identity",
                )
            )
    return problems


def identity_subjects(cfg: StackConfig) -> list[tuple[str, str, str]]:
    """``(workload, namespace, ksa)`` of every workload that gets an identity."""
    subjects = [(m.name, cfg.identity.namespace, m.ksa.name) for m in cfg.models]
    for g in cfg.storage.access:
        subjects.append((g.workload, g.namespace or cfg.identity.namespace, g.service_account or g.workload))
    return subjects
