"""The whole stack configuration as frozen pydantic models, validated before any resource exists.

``load()`` reads every ``gke-gpu-serving:*`` key (and ``gcp:project`` / ``gcp:region``) from
the Pulumi config, parses the tree, then runs :func:`cross_checks` — the rules that span keys
(a T4 on a G2 machine, a model no pool can hold, a node pool in Autopilot). A bad config never
reaches Pulumi: :class:`ConfigError` lists one line per problem, each naming the config key path
(``gke-gpu-serving:gpuPools[0].machineType``), the bad value and the fix.

Keys are camelCase in YAML (as Pulumi users write them) and snake_case in Python.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra import catalog, naming

NAMESPACE = "gke-gpu-serving"
GCP_KEYS = ("project", "region")

Environment = Literal["dev", "staging", "prod"]
ClusterMode = Literal["standard", "autopilot", "existing"]
ReleaseChannel = Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"]
Driver = Literal["gke-default", "gke-latest", "daemonset"]
ImageType = Literal["COS_CONTAINERD", "UBUNTU_CONTAINERD"]
Server = Literal["torchserve", "triton", "vllm", "predictor"]
AcceleratorName = Literal["nvidia-tesla-t4", "nvidia-l4"]

# Longest names that still leave room for the suffixes the stack adds (-gke, pool sizes, ...).
NAME_PREFIX_MAX = 20
POOL_KEY_MAX = 20
MODEL_NAME_MAX = 40

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][-+]?[0-9]+|[mkMGTPE]i?|Ki|m)?$")
_IMAGE_TAG = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


class ComponentArgs(BaseModel):
    """Base of every component's ``XArgs``: plain values, frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


def _dns_name(value: str, max_len: int, what: str) -> str:
    if not naming.is_dns1123_label(value, max_len=max_len):
        raise ValueError(
            f"{what} {value!r} must be a DNS-1123 label: lower-case letters, digits and '-', "
            f"starting with a letter, at most {max_len} characters"
        )
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range like 10.0.0.0/20 ({exc})") from None
    return value


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity (``500m``, ``16Gi``, ``2``) as a float in base units."""
    m = _QUANTITY.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 4, 16Gi")
    number, suffix = float(m.group(1)), m.group(2) or ""
    factors = {
        "": 1,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
    }
    if suffix and suffix[0] in "eE" and suffix not in factors:
        return number * 10 ** int(suffix[1:])
    return number * factors[suffix]


def image_tag(image: str) -> str | None:
    """The tag of an image reference, ``None`` when it is untagged (which means ``latest``)."""
    last = image.rsplit("/", 1)[-1]
    m = _IMAGE_TAG.match(last)
    if not m:
        return None
    if m.group("digest") and not m.group("tag"):
        return m.group("digest")
    return m.group("tag")


class NetworkConfig(_Model):
    """The VPC the cluster lives in: created by the stack, or an existing one named here."""

    mode: Literal["create", "existing"] = "create"
    name: str | None = Field(None, description="existing mode: network name or self link")
    subnetwork: str | None = Field(None, description="existing mode: subnetwork name or self link")
    nodes_cidr: str = "10.10.0.0/20"
    pods_cidr: str = "10.16.0.0/14"
    services_cidr: str = "10.20.0.0/20"
    pods_range_name: str = "pods"
    services_range_name: str = "services"

    _check_cidrs = field_validator("nodes_cidr", "pods_cidr", "services_cidr")(_cidr)

    @model_validator(mode="after")
    def _existing_needs_names(self) -> NetworkConfig:
        if self.mode == "existing" and not (self.name and self.subnetwork):
            raise PydanticCustomError(
                "config_rule",
                "network.mode existing needs network.name and network.subnetwork (and the secondary "
                "range names pods/services of that subnetwork); set them or use mode: create",
            )
        if self.mode == "create":
            nets = [ipaddress.ip_network(c) for c in (self.nodes_cidr, self.pods_cidr, self.services_cidr)]
            for i, a in enumerate(nets):
                for b in nets[i + 1 :]:
                    if a.overlaps(b):
                        raise PydanticCustomError(
                            "config_rule",
                            "network ranges {a} and {b} overlap; give nodesCidr, podsCidr and "
                            "servicesCidr disjoint ranges",
                            {"a": str(a), "b": str(b)},
                        )
        return self


class AuthorizedNetwork(_Model):
    cidr: str
    display_name: str

    _check_cidr = field_validator("cidr")(_cidr)


class SystemPool(_Model):
    """The small non-GPU pool every Standard cluster keeps for system and CPU pods."""

    machine_type: str = "e2-standard-4"
    min_nodes: int = Field(1, ge=0)
    max_nodes: int = Field(3, ge=1)
    disk_size_gb: int = Field(100, ge=20)


class ClusterConfig(_Model):
    mode: ClusterMode
    location: str
    name: str | None = None
    release_channel: ReleaseChannel = "REGULAR"
    private_nodes: bool = False
    master_ipv4_cidr: str = "172.16.0.0/28"
    master_authorized_networks: tuple[AuthorizedNetwork, ...] = ()
    deletion_protection: bool | None = None
    system_pool: SystemPool = SystemPool()
    image_streaming: bool = True
    # For mode: existing, the driver DaemonSet the stack should install (its pools are not ours).
    driver_daemon_set: Literal["none", "cos", "ubuntu"] = "none"
    # For mode: existing, whether that cluster is Autopilot (decides how GPU pods schedule).
    existing_autopilot: bool = False

    _check_master_cidr = field_validator("master_ipv4_cidr")(_cidr)

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        if not (catalog.is_zone(value) or catalog.is_region(value)):
            raise ValueError(f"{value!r} is neither a zone (us-central1-a) nor a region (us-central1)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _dns_name(value, naming.CLUSTER_NAME_MAX, "cluster name")

    @field_validator("master_ipv4_cidr")
    @classmethod
    def _master_is_28(cls, value: str) -> str:
        if ipaddress.ip_network(value).prefixlen != 28:
            raise ValueError(f"{value!r} must be a /28 (GKE's control-plane range size), e.g. 172.16.0.0/28")
        return value


class GpuSharing(_Model):
    strategy: Literal["time-sharing", "mps"]
    max_clients_per_gpu: int = Field(ge=2, le=48)


class GpuPool(_Model):
    name: str
    accelerator: AcceleratorName
    gpus_per_node: int = Field(ge=1)
    machine_type: str
    min_nodes: int = Field(0, ge=0)
    max_nodes: int = Field(ge=1)
    spot: bool = False
    driver: Driver = "gke-default"
    sharing: GpuSharing | None = None
    image_type: ImageType = "COS_CONTAINERD"
    disk_size_gb: int = Field(100, ge=50)
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard"] = "pd-balanced"
    node_locations: tuple[str, ...] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, POOL_KEY_MAX, "pool name")

    @property
    def gke_name(self) -> str:
        return naming.gpu_pool_name(
            self.accelerator,
            self.gpus_per_node,
            self.machine_type,
            spot=self.spot,
            sharing=self.sharing.strategy if self.sharing else None,
            max_clients=self.sharing.max_clients_per_gpu if self.sharing else None,
        )


BucketPurpose = Literal["model-repository", "converted-models"]
IdentityMode = Literal["service-account", "direct"]
BUCKET_KEY_MAX = 20
# GCS soft delete: 0 (off) or 7-90 days. Source: https://cloud.google.com/storage/docs/soft-delete
SOFT_DELETE_MIN_DAYS, SOFT_DELETE_MAX_DAYS = 7, 90
DEFAULT_PREDICTOR_KSA = "aiinfra-gke-sa"  # seed 001's KSA_NAME default


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


class RegistryConfig(_Model):
    """Artifact Registry Docker repositories for model and app images (seed 000)."""

    repositories: tuple[str, ...] = ("models", "apps")
    untagged_retention_days: int = Field(7, ge=1)

    @field_validator("repositories")
    @classmethod
    def _repos(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for repo in value:
            _dns_name(repo, BUCKET_KEY_MAX, "repository name")
        return value


class ServiceAccountRef(_Model):
    """The Kubernetes service account a model's pods run as."""

    name: str
    create: bool = Field(True, description="false: reuse an existing KSA (seed 001's KSA_NAME)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, naming.K8S_NAME_MAX, "service account name")


class ModelGpu(_Model):
    type: AcceleratorName
    count: int = Field(ge=1, le=8)


class Replicas(_Model):
    min: int = Field(1, ge=0)
    max: int = Field(1, ge=1)


class Resources(_Model):
    cpu: str = "4"
    memory: str = "16Gi"
    ephemeral_storage: str = "20Gi"

    @field_validator("cpu", "memory", "ephemeral_storage")
    @classmethod
    def _quantity(cls, value: str) -> str:
        parse_quantity(value)
        return value


class ModelConfig(_Model):
    name: str
    server: Server
    gpu: ModelGpu
    source: str
    image: str | None = None
    replicas: Replicas = Replicas()
    resources: Resources = Resources()
    service_account: ServiceAccountRef | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, MODEL_NAME_MAX, "model name")

    @property
    def ksa(self) -> ServiceAccountRef:
        """The KSA of the model's pods: configured, seed 001's default for the predictor, or ``<name>``."""
        if self.service_account:
            return self.service_account
        return ServiceAccountRef(name=DEFAULT_PREDICTOR_KSA if self.server == "predictor" else self.name)

    @property
    def bucket_ref(self) -> str | None:
        """``{key}`` of a ``gs://{key}/...`` source, or None."""
        m = re.match(r"^gs://\{([^}]*)\}(/|$)", self.source)
        return m.group(1) if m else None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not re.match(r"^(gs|hf)://[^/\s]+(/\S*)?$", value):
            raise ValueError(
                f"{value!r} is neither a gs:// nor an hf:// URI; use gs://{{bucket}}/path or hf://org/model"
            )
        return value


class StackConfig(_Model):
    """Everything one stack (one environment) deploys."""

    project: str
    region: str
    environment: Environment
    name_prefix: str = "gpu-serving"
    labels: dict[str, str] = Field(default_factory=dict)
    network: NetworkConfig | None = None
    cluster: ClusterConfig
    gpu_pools: tuple[GpuPool, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    storage: StorageConfig = StorageConfig()
    identity: IdentityConfig = IdentityConfig()
    registry: RegistryConfig = RegistryConfig()

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return _dns_name(value, NAME_PREFIX_MAX, "namePrefix")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not catalog.is_region(value):
            raise ValueError(f"{value!r} is not a region; set gcp:region to e.g. us-central1")
        return value

    @model_validator(mode="after")
    def _rules(self) -> StackConfig:
        problems = cross_checks(self)
        if problems:
            raise PydanticCustomError(
                "stack_rules", "{count} stack rule(s) broken", {"count": len(problems), "problems": problems}
            )
        return self

    # Derived values ------------------------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The stem of every physical name: ``<namePrefix>-<environment>``."""
        return f"{self.name_prefix}-{self.environment}"

    @property
    def cluster_name(self) -> str:
        if self.cluster.name:
            return self.cluster.name
        return naming.budget_name(self.prefix, "gke", max_len=naming.CLUSTER_NAME_MAX)

    @property
    def autopilot(self) -> bool:
        """True when GPU pods land on Autopilot (a new Autopilot cluster or an existing one)."""
        return self.cluster.mode == "autopilot" or (self.cluster.mode == "existing" and self.cluster.existing_autopilot)

    @property
    def effective_network(self) -> NetworkConfig:
        return self.network or NetworkConfig()

    def bucket(self, key: str) -> BucketConfig | None:
        return next((b for b in self.storage.buckets if b.name == key), None)

    def protect_bucket(self, bucket: BucketConfig) -> bool:
        return bucket.protect if bucket.protect is not None else self.environment == "prod"

    def retain_bucket(self, bucket: BucketConfig) -> bool:
        return bucket.retain_on_delete if bucket.retain_on_delete is not None else self.environment == "prod"

    def pools_for(self, model: ModelConfig) -> tuple[GpuPool, ...]:
        """The configured pools a model's pods can schedule onto."""
        return tuple(p for p in self.gpu_pools if pool_can_hold(p, model.gpu))


def pool_can_hold(pool: GpuPool, gpu: ModelGpu) -> bool:
    """A pod asking for ``gpu`` fits a node of ``pool``.

    With GPU sharing (time-sharing or MPS) GKE lets a container request exactly one shared GPU.
    """
    if pool.accelerator != gpu.type or pool.gpus_per_node < gpu.count:
        return False
    return pool.sharing is None or gpu.count == 1


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (a key path below the namespace), what was given, how to fix it."""

    path: tuple[str | int, ...]
    value: Any
    message: str


def cross_checks(cfg: StackConfig) -> list[Problem]:
    """The DESIGN.md section 4 rules that span more than one key. Pure: config in, problems out."""
    problems: list[Problem] = []
    add = problems.append
    cl = cfg.cluster
    mode = cl.mode

    if catalog.region_of(cl.location) != cfg.region:
        add(
            Problem(
                ("cluster", "location"),
                cl.location,
                f"is not in gcp:region {cfg.region}; use {cfg.region} or one of its zones",
            )
        )

    if mode in ("standard", "autopilot") and cl.deletion_protection is None:
        add(
            Problem(
                ("cluster", "deletionProtection"),
                None,
                "must be set explicitly per environment (the provider defaults to true, which blocks "
                "pulumi destroy); set true for prod, false for dev",
            )
        )
    if mode == "existing":
        if not cl.name:
            add(
                Problem(
                    ("cluster", "name"), None, "is required for mode: existing; set it to the existing cluster's name"
                )
            )
        if cfg.gpu_pools:
            add(
                Problem(
                    ("gpuPools",),
                    [p.name for p in cfg.gpu_pools],
                    "an existing cluster's node pools are managed where the cluster is; remove "
                    "gpuPools or use cluster.mode: standard",
                )
            )
        if cfg.network is not None:
            add(
                Problem(
                    ("network",),
                    cfg.network.mode,
                    "an existing cluster brings its own network; remove gke-gpu-serving:network",
                )
            )
    if mode == "autopilot":
        if cfg.gpu_pools:
            add(
                Problem(
                    ("gpuPools",),
                    [p.name for p in cfg.gpu_pools],
                    "Autopilot provisions GPU nodes itself and has no node pools; remove gpuPools "
                    "or use cluster.mode: standard",
                )
            )
        if catalog.is_zone(cl.location):
            add(
                Problem(
                    ("cluster", "location"),
                    cl.location,
                    f"Autopilot clusters are regional; use the region {cfg.region}",
                )
            )
    if cfg.autopilot and cl.driver_daemon_set != "none":
        add(
            Problem(
                ("cluster", "driverDaemonSet"),
                cl.driver_daemon_set,
                "Autopilot installs NVIDIA drivers itself and rejects the driver DaemonSet; set it to none",
            )
        )
    if mode == "standard" and cl.driver_daemon_set != "none":
        add(
            Problem(
                ("cluster", "driverDaemonSet"),
                cl.driver_daemon_set,
                "is only for mode: existing; for pools the stack creates set gpuPools[].driver: daemonset",
            )
        )
    if mode == "standard" and cl.system_pool.min_nodes > cl.system_pool.max_nodes:
        add(
            Problem(
                ("cluster", "systemPool", "minNodes"),
                cl.system_pool.min_nodes,
                f"is greater than systemPool.maxNodes ({cl.system_pool.max_nodes}); lower minNodes or raise maxNodes",
            )
        )

    problems.extend(_pool_checks(cfg))
    problems.extend(_model_checks(cfg))
    problems.extend(_storage_checks(cfg))
    return problems


def _repeats(values: list[str]) -> dict[int, int]:
    """For every value seen before: its position -> the position it first appeared at."""
    first: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for i, value in enumerate(values):
        if value in first:
            repeats[i] = first[value]
        else:
            first[value] = i
    return repeats


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


def _pool_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    repeated_name = _repeats([p.name for p in cfg.gpu_pools])
    repeated_gke = _repeats([p.gke_name for p in cfg.gpu_pools])
    for i, pool in enumerate(cfg.gpu_pools):
        at = ("gpuPools", i)
        bad = catalog.check_pairing(pool.accelerator, pool.machine_type, pool.gpus_per_node)
        if bad:
            field, why = bad
            problems.append(Problem((*at, field), pool.model_dump(by_alias=True)[field], why))
        if pool.min_nodes > pool.max_nodes:
            problems.append(
                Problem(
                    (*at, "minNodes"),
                    pool.min_nodes,
                    f"is greater than maxNodes ({pool.max_nodes}); lower minNodes or raise maxNodes",
                )
            )
        acc = catalog.ACCELERATORS[pool.accelerator]
        if not acc.offered_in(cfg.cluster.location):
            where = ", ".join(acc.zones_in(cfg.region)) or "no zone of this region"
            problems.append(
                Problem(
                    (*at, "accelerator"),
                    pool.accelerator,
                    f"{acc.display} is not offered in {cfg.cluster.location} (offered in {where}); "
                    "pick a location that offers it (see infra/catalog.py)",
                )
            )
        for j, zone in enumerate(pool.node_locations or ()):
            if not acc.offered_in(zone) or catalog.region_of(zone) != cfg.region:
                where = ", ".join(acc.zones_in(cfg.region)) or "no zone of this region"
                problems.append(
                    Problem(
                        (*at, "nodeLocations", j),
                        zone,
                        f"{acc.display} is not offered in zone {zone} of {cfg.region}; use {where}",
                    )
                )
        if i in repeated_name:
            problems.append(
                Problem(
                    (*at, "name"), pool.name, f"repeats gpuPools[{repeated_name[i]}].name; pool names must be unique"
                )
            )
        if i in repeated_gke:
            problems.append(
                Problem(
                    at,
                    pool.gke_name,
                    f"holds the same hardware as gpuPools[{repeated_gke[i]}] (both would be "
                    f"named {pool.gke_name}); merge them or change spot/sharing",
                )
            )
    return problems


def _model_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    repeated = _repeats([m.name for m in cfg.models])
    for i, model in enumerate(cfg.models):
        at = ("models", i)
        acc = catalog.ACCELERATORS[model.gpu.type]
        if i in repeated:
            problems.append(
                Problem((*at, "name"), model.name, f"repeats models[{repeated[i]}].name; model names must be unique")
            )
        if model.replicas.min > model.replicas.max:
            problems.append(
                Problem(
                    (*at, "replicas", "min"),
                    model.replicas.min,
                    f"is greater than replicas.max ({model.replicas.max}); lower min or raise max",
                )
            )
        if not acc.offered_in(cfg.region):
            problems.append(
                Problem(
                    (*at, "gpu", "type"),
                    model.gpu.type,
                    f"{acc.display} is not offered in {cfg.region}; choose another GPU or region (see infra/catalog.py)",
                )
            )
        if model.image is not None:
            tag = image_tag(model.image)
            if cfg.environment != "dev" and (tag is None or tag == "latest"):
                problems.append(
                    Problem(
                        (*at, "image"),
                        model.image,
                        f"uses the latest tag (explicitly or by omission), allowed only in dev; pin a "
                        f"version tag or digest for {cfg.environment}",
                    )
                )
        if cfg.cluster.mode == "standard":
            problems.extend(_standard_fit(cfg, i, model))
        if cfg.autopilot:
            problems.extend(_autopilot_fit(i, model))
    return problems


def _standard_fit(cfg: StackConfig, i: int, model: ModelConfig) -> list[Problem]:
    at = ("models", i, "gpu")
    same_type = [p for p in cfg.gpu_pools if p.accelerator == model.gpu.type]
    if not same_type:
        pools = ", ".join(f"{p.name} ({p.accelerator})" for p in cfg.gpu_pools) or "none"
        return [
            Problem(
                (*at, "type"),
                model.gpu.type,
                f"no GPU pool serves {model.gpu.type} (pools: {pools}); add a gpuPools entry with "
                f"accelerator: {model.gpu.type} or change the model's GPU",
            )
        ]
    if not cfg.pools_for(model):
        best = max(p.gpus_per_node for p in same_type)
        shared = [p.name for p in same_type if p.sharing]
        hint = f" (pools {', '.join(shared)} share GPUs, which allows 1 GPU per container)" if shared else ""
        return [
            Problem(
                (*at, "count"),
                model.gpu.count,
                f"no {model.gpu.type} pool has {model.gpu.count} GPUs per node (largest: {best}){hint}; "
                "lower gpu.count or add a pool with more gpusPerNode",
            )
        ]
    return []


def _autopilot_fit(i: int, model: ModelConfig) -> list[Problem]:
    at = ("models", i)
    acc = catalog.ACCELERATORS[model.gpu.type]
    limits = acc.autopilot.get(model.gpu.count)
    if limits is None:
        counts = ", ".join(str(c) for c in acc.autopilot)
        return [
            Problem(
                (*at, "gpu", "count"),
                model.gpu.count,
                f"Autopilot offers {acc.display} pods with {counts} GPUs; use one of those",
            )
        ]
    problems = []
    cpu = parse_quantity(model.resources.cpu)
    mem_gib = parse_quantity(model.resources.memory) / 2**30
    if not limits.cpu_min <= cpu <= limits.cpu_max:
        problems.append(
            Problem(
                (*at, "resources", "cpu"),
                model.resources.cpu,
                f"Autopilot allows {limits.cpu_min}-{limits.cpu_max} vCPU for {model.gpu.count} x "
                f"{acc.display}; set resources.cpu inside that range",
            )
        )
    if not limits.memory_min_gib <= mem_gib <= limits.memory_max_gib:
        problems.append(
            Problem(
                (*at, "resources", "memory"),
                model.resources.memory,
                f"Autopilot allows {limits.memory_min_gib}-{limits.memory_max_gib} GiB for "
                f"{model.gpu.count} x {acc.display}; set resources.memory inside that range",
            )
        )
    return problems


# Loading and error reporting -------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration that breaks one or more rules. ``str()`` is one line per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("gpuPools", 0, "machineType")`` -> ``gke-gpu-serving:gpuPools[0].machineType``."""
    if not loc:
        return f"{NAMESPACE}:<root>"
    head, *rest = loc
    out = f"gcp:{head}" if head in GCP_KEYS else f"{NAMESPACE}:{head}"
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _line(path: tuple, value: Any, message: str) -> str:
    shown = "not set" if value is None else json.dumps(value, default=str)
    return f"{key_path(path)} = {shown}: {message}"


def format_errors(exc: ValidationError) -> list[str]:
    """One readable line per pydantic error (no traceback, no pydantic URL)."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "stack_rules":
            # Rules run on the root model; each problem carries its own path.
            prefix = loc
            for p in err["ctx"]["problems"]:
                lines.append(_line((*prefix, *p.path), p.value, p.message))
            continue
        value = err.get("input")
        if kind == "extra_forbidden":
            lines.append(
                f"{key_path(loc)}: unknown key; remove it or fix its spelling (see the config reference in README.md)"
            )
        elif kind == "missing":
            lines.append(f"{key_path(loc)}: required key is not set; add it to Pulumi.<stack>.yaml")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(_line(loc, value if not isinstance(value, dict) else None, msg))
    return lines


def parse(raw: dict[str, Any]) -> StackConfig:
    """Validate a raw config tree (top-level keys without namespace) into a :class:`StackConfig`."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def raw_from_pulumi() -> dict[str, Any]:
    """Every ``gke-gpu-serving:*`` key, plus ``gcp:project`` and ``gcp:region``, from Pulumi config.

    Unknown keys are kept, so the model rejects them by name instead of ignoring a typo.
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, Any] = {}
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, value in merged.items():
        ns, _, key = full_key.partition(":")
        if ns == NAMESPACE or (ns == "gcp" and key in GCP_KEYS):
            values[key] = decode_value(value)
    return values


def decode_value(value: Any) -> Any:
    """A config value as the engine passes it (a string; JSON for structures) back to data."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "[") or stripped in ("true", "false"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def load() -> StackConfig:
    """Read and validate the stack config from the running Pulumi program."""
    return parse(raw_from_pulumi())
