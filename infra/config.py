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
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from infra import catalog, naming, signals

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


# An image reference as the container runtime parses it (github.com/distribution/reference,
# regexp.go): an optional registry host (with a '.' or ':' in it, or localhost) and port, a
# lower-case path of components [a-z0-9]+ joined by '.', '_', '__' or '-', an optional tag
# [\w][\w.-]{0,127} and an optional sha256 digest. No URL scheme.
_HOST = (
    r"(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+)(?::[0-9]+)?"
)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _image_ref(value: str | None) -> str | None:
    if value is None:
        return None
    if "://" in value:
        raise ValueError(
            f"{value!r} is not an image reference: drop the URL scheme and write host/path:tag, "
            "e.g. us-central1-docker.pkg.dev/my-project/models/t5:1.0"
        )
    if not _IMAGE_REF.match(value):
        raise ValueError(
            f"{value!r} is not an image reference: a registry host, a lower-case path, then :tag or "
            "@sha256:digest, e.g. us-central1-docker.pkg.dev/my-project/models/t5:1.0"
        )
    return value


_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _digest(value: str) -> str:
    if not _DIGEST.match(value):
        raise ValueError(
            f"{value!r} is not an image digest: write sha256: and 64 lower-case hex digits, as "
            "`crane digest <image>` prints them"
        )
    return value


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
    dns_endpoint: bool = Field(
        True,
        description="GKE's DNS-based control-plane endpoint, open to external traffic: IAM-gated "
        "(container.clusters.connect), not subject to masterAuthorizedNetworks",
    )
    kubeconfig_endpoint: Literal["dns", "ip"] | None = Field(
        None,
        description="the endpoint the stack's kubeconfig and Kubernetes provider use; default dns "
        "(ip for mode: existing, whose endpoints the stack does not set)",
    )
    deploy_networks: tuple[str, ...] = Field(
        (),
        description="CIDRs pulumi up and destroy run from (self-hosted runners, a VPN) when the kubeconfig "
        "uses the IP endpoint behind masterAuthorizedNetworks",
    )

    _check_deploy_networks = field_validator("deploy_networks")(lambda values: tuple(_cidr(v) for v in values))

    @property
    def kubeconfig_via(self) -> str:
        """``dns`` or ``ip``: which control-plane endpoint the stack's own Kubernetes calls use."""
        if self.kubeconfig_endpoint is not None:
            return self.kubeconfig_endpoint
        return "ip" if self.mode == "existing" or not self.dns_endpoint else "dns"

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
    # Autopilot only: pin the GKE-managed driver branch with the
    # cloud.google.com/gke-gpu-driver-version node selector (on Standard the pool decides).
    driver_version: Literal["default", "latest"] | None = None


class Replicas(_Model):
    min: int = Field(1, ge=0)
    max: int = Field(1, ge=1)


def _quantity_field(value: str) -> str:
    parse_quantity(value)
    return value


class Resources(_Model):
    cpu: str = "4"
    memory: str = "16Gi"
    ephemeral_storage: str = "20Gi"

    _check = field_validator("cpu", "memory", "ephemeral_storage")(_quantity_field)


ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]


class ServiceConfig(_Model):
    """How a workload is exposed. ClusterIP unless asked; a LoadBalancer is internal unless asked."""

    type: ServiceType | None = Field(None, description="default: NodePort for the predictor, else ClusterIP")
    internal: bool = Field(True, description="LoadBalancer: an internal passthrough load balancer")
    allow_in_prod: bool = Field(False, description="the explicit flag a LoadBalancer needs in prod")
    allow_from: tuple[str, ...] = Field((), description="CIDRs outside the namespace that may connect")

    _check_cidrs = field_validator("allow_from")(lambda values: tuple(_cidr(v) for v in values))


class TorchServeOptions(_Model):
    """TorchServe (seed 000): config.properties values the stack renders into a ConfigMap."""

    model_store: Literal["image", "bucket"] = Field(
        "image", description="image: .mar files baked into the image; bucket: the model source via GCS FUSE"
    )
    job_queue_size: int = Field(1000, ge=1)
    netty_threads: int = Field(32, ge=1)
    install_py_dep_per_model: bool = True


class TritonOptions(_Model):
    """Triton (seeds 002, 003): server flags passed through."""

    repository: Literal["gcs", "fuse"] = Field(
        "gcs", description="gcs: Triton reads gs:// itself; fuse: a read-only GCS FUSE mount"
    )
    model_control_mode: Literal["none", "poll", "explicit"] = "none"
    load_models: tuple[str, ...] = Field((), description="explicit mode: models loaded at start")
    repository_poll_secs: int = Field(30, ge=1)
    default_max_batch_size: int | None = Field(None, ge=0)
    backend_config: tuple[str, ...] = Field(
        (), description="--backend-config values, e.g. onnxruntime,enable-global-threadpool=1"
    )
    exit_timeout_secs: int = Field(30, ge=1, le=600)


class VllmOptions(_Model):
    """vLLM OpenAI-compatible server (seed 004)."""

    tensor_parallel_size: int | None = Field(None, ge=1, description="must equal gpu.count (default)")
    max_model_len: int | None = Field(None, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    dtype: Literal["auto", "half", "float16", "bfloat16"] = "auto"
    max_num_seqs: int | None = Field(None, ge=1)
    served_model_name: str | None = None


class PredictorOptions(_Model):
    """The LLM-pipeline predictor (seed 001). Its environment contract maps onto config:

    GPU_COUNT_PER_MODEL -> gpu.count, MODEL_SOURCE_PATH -> source, MODEL_NAME -> name,
    KSA_NAME -> serviceAccount, POD_MEMORY_LIMIT -> resources.memory (default 16Gi),
    INFERENCING_IMAGE_TAG -> predictor.imageTag, USE_FASTER_TRANSFORMER ->
    predictor.fasterTransformer, CONVERTED_MODEL_UPLOAD_PATH -> predictor.convertedModelUploadPath.
    """

    image_tag: str = Field("release", description="INFERENCING_IMAGE_TAG (seed 001 default: release)")
    converter_digest: str | None = Field(
        None,
        description="sha256:<64 hex> the FasterTransformer converter image (gcr.io/llm-containers/convert:"
        "<imageTag>) is pinned to; the predictor's own image pins through models[].image",
    )
    faster_transformer: bool = Field(False, description="USE_FASTER_TRANSFORMER")
    converted_model_upload_path: str | None = Field(None, description="CONVERTED_MODEL_UPLOAD_PATH")
    converter: str | None = Field(None, description="storage.access workload the conversion Job runs as")

    _check_path = field_validator("converted_model_upload_path")(lambda v: v if v is None else _gs(v))
    _check_digest = field_validator("converter_digest")(lambda v: v if v is None else _digest(v))
    conversion_deadline_seconds: int = Field(3600, ge=300, le=86_400)
    conversion_ephemeral_storage: str = Field(
        "40Gi",
        description="scratch space of the conversion Job (convert_t5.sh downloads and converts there); "
        "a 100 GB boot disk gives pods 43.8 GiB",
    )

    _check_scratch = field_validator("conversion_ephemeral_storage")(lambda v: _quantity_field(v))


class SignalConfig(_Model):
    signal: Literal[
        "queue-latency", "pending-requests", "queue-size", "batch-size", "kv-cache", "gpu-utilization", "gpu-memory"
    ]
    target: float | None = Field(None, description="per-pod average to scale at; default from the metric catalog")

    @field_validator("target")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(f"target {value} must be > 0: the HPA scales to keep the per-pod average at it")
        return value


class Behavior(_Model):
    """HPA behavior: scale up fast, scale down slowly (GPU pods take minutes to come back)."""

    scale_up_stabilization_seconds: int = Field(0, ge=0, le=3600)
    scale_up_pods_per_minute: int = Field(2, ge=1, le=100)
    scale_down_stabilization_seconds: int = Field(300, ge=0, le=3600)
    scale_down_pods_per_period: int = Field(1, ge=1, le=100)
    scale_down_period_seconds: int = Field(120, ge=15, le=1800)


class AutoscalingConfig(_Model):
    """One HPA per model on ``replicas.min..replicas.max``; several signals take the largest."""

    signals: tuple[SignalConfig, ...] = Field(min_length=1)
    behavior: Behavior = Behavior()


class MetricsConfig(_Model):
    custom_metrics_adapter: bool = Field(True, description="install the custom-metrics Stackdriver adapter")
    external_adapter: bool = Field(False, description="the cluster already has an owner of the metrics APIs")
    dashboard: bool = True
    alerts: bool = True
    notification_channels: tuple[str, ...] = Field((), description="projects/<p>/notificationChannels/<id>")


class ModelConfig(_Model):
    name: str
    server: Server
    gpu: ModelGpu
    source: str
    image: str | None = None
    replicas: Replicas = Replicas()
    resources: Resources = Resources()
    service_account: ServiceAccountRef | None = None
    service: ServiceConfig = ServiceConfig()
    shm_size: str | None = Field(None, description="/dev/shm size limit; default per server")
    startup_seconds: int | None = Field(None, ge=30, le=7200, description="model load budget; default per server")
    run_as_user: int = Field(1000, ge=1, description="non-root UID the server runs as")
    torchserve: TorchServeOptions | None = None
    triton: TritonOptions | None = None
    vllm: VllmOptions | None = None
    predictor: PredictorOptions | None = None
    autoscaling: AutoscalingConfig | None = None

    _check_shm = field_validator("shm_size")(lambda v: v if v is None else _quantity_field(v))
    _check_image = field_validator("image")(_image_ref)

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
        return bucket_ref(self.source)

    @property
    def service_type(self) -> str:
        if self.service.type:
            return self.service.type
        return "NodePort" if self.server == "predictor" else "ClusterIP"

    @property
    def options(self) -> TorchServeOptions | TritonOptions | VllmOptions | PredictorOptions:
        """The server's option block, defaults when the stack sets none."""
        given = getattr(self, self.server)
        if given is not None:
            return given
        return {
            "torchserve": TorchServeOptions,
            "triton": TritonOptions,
            "vllm": VllmOptions,
            "predictor": PredictorOptions,
        }[self.server]()

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return _gs_or_hf(value)


def _gs_or_hf(value: str) -> str:
    if not re.match(r"^(gs|hf)://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is neither a gs:// nor an hf:// URI; use gs://{{bucket}}/path or hf://org/model")
    return value


def _gs(value: str) -> str:
    if not re.match(r"^gs://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not a gs:// URI; use gs://{{bucket}}/path or gs://bucket-name/path")
    return value


def bucket_ref(uri: str) -> str | None:
    """``{key}`` of a ``gs://{key}/...`` URI, or None."""
    m = re.match(r"^gs://\{([^}]*)\}(/|$)", uri)
    return m.group(1) if m else None


class ConversionConfig(_Model):
    """A one-shot Job that reads a model and writes a converted one (seeds 001 and 002)."""

    name: str
    model: str | None = Field(None, description="served model whose Deployment waits for this Job")
    workload: str = Field(description="storage.access workload (the writer identity) the Job runs as")
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = Field((), description="may use $(SOURCE_URI) and $(DESTINATION_URI)")
    source: str
    destination: str
    gpu: ModelGpu | None = None
    resources: Resources = Resources()
    backoff_limit: int = Field(2, ge=0, le=6)
    active_deadline_seconds: int = Field(3600, ge=60, le=86_400)

    _check_source = field_validator("source")(_gs_or_hf)
    _check_destination = field_validator("destination")(_gs)
    _check_image = field_validator("image")(_image_ref)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, MODEL_NAME_MAX, "conversion name")


class WebappConfig(_Model):
    """Seed 000's fastdash front end: a CPU Deployment calling a TorchServe model."""

    model: str = Field(description="the torchserve model it calls")
    image: str
    replicas: int = Field(1, ge=1, le=10)
    port: int = Field(8050, ge=1024, le=65535)
    resources: Resources = Resources(cpu="250m", memory="512Mi", ephemeral_storage="1Gi")
    service: ServiceConfig = ServiceConfig()
    run_as_user: int = Field(1000, ge=1)

    _check_image = field_validator("image")(_image_ref)


LOADTEST_MAX_USERS = 200
LOADTEST_MAX_RATE = 500
LOADTEST_MAX_SECONDS = 3600
LOCUST_IMAGE = "locustio/locust:2.32.4"


class LoadTestConfig(_Model):
    """An opt-in, bounded load generator Job (seeds 002, 003): fixed rate, fixed duration."""

    enabled: bool = False
    model: str
    run: int = Field(1, ge=1, description="bump to run the Job again (its name changes)")
    users: int = Field(10, ge=1, le=LOADTEST_MAX_USERS)
    requests_per_second: float = Field(5, gt=0, le=LOADTEST_MAX_RATE)
    duration_seconds: int = Field(300, ge=30, le=LOADTEST_MAX_SECONDS)
    image: str = LOCUST_IMAGE
    path: str | None = Field(None, description="request path; default per server ({model} is replaced)")
    body: str | None = Field(None, description="JSON request body; default per server (required for triton)")

    _check_image = field_validator("image")(_image_ref)

    @field_validator("body")
    @classmethod
    def _json(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not JSON ({exc.msg}); give the request body as a JSON string") from None
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
    conversions: tuple[ConversionConfig, ...] = ()
    webapp: WebappConfig | None = None
    load_test: LoadTestConfig | None = None
    metrics: MetricsConfig = MetricsConfig()
    hf_token: SecretStr | None = Field(None, description="Hugging Face token; set with pulumi config set --secret")

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
        return protect_default(self.environment, bucket.protect)

    def retain_bucket(self, bucket: BucketConfig) -> bool:
        return retain_default(self.environment, bucket.retain_on_delete)

    def bucket_fate(self, bucket: BucketConfig) -> str:
        return bucket_fate(self.environment, bucket.force_destroy, bucket.protect, bucket.retain_on_delete)

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)

    def grant(self, workload: str) -> AccessGrant | None:
        return next((g for g in self.storage.access if g.workload == workload), None)

    @property
    def all_conversions(self) -> tuple[tuple[tuple[str | int, ...], ConversionConfig], ...]:
        """Every conversion Job with the config path it comes from: the configured ones, then one
        per FasterTransformer predictor (seed 001 converts before it serves)."""
        out: list[tuple[tuple[str | int, ...], ConversionConfig]] = [
            (("conversions", i), c) for i, c in enumerate(self.conversions)
        ]
        for i, m in enumerate(self.models):
            opts = m.options
            if m.server == "predictor" and opts.faster_transformer and opts.converted_model_upload_path:
                out.append((("models", i, "predictor"), predictor_conversion(m)))
        return tuple(out)

    def pools_for(self, model: ModelConfig) -> tuple[GpuPool, ...]:
        """The configured pools a model's pods can schedule onto."""
        return self.pools_for_gpu(model.gpu)

    def pools_for_gpu(self, gpu: ModelGpu) -> tuple[GpuPool, ...]:
        return tuple(p for p in self.gpu_pools if pool_can_hold(p, gpu))


PREDICTOR_IMAGE = "gcr.io/llm-containers/predict"  # seed 001 without FasterTransformer
PREDICTOR_FT_IMAGE = "gcr.io/llm-containers/predict-triton"  # seed 001 with FasterTransformer
CONVERTER_IMAGE = "gcr.io/llm-containers/convert"  # seed 001's convert job (./convert_t5.sh)
DEFAULT_CONVERTER = "ft-converter"


def predictor_conversion(model: ModelConfig) -> ConversionConfig:
    """Seed 001's FasterTransformer conversion as a conversion Job: ``convert_t5.sh <gpus> <src> <dst>``.

    Like the seed it takes the serving GPU count as the parallelism to convert for, without a GPU
    of its own; it reads MODEL_SOURCE_PATH and writes CONVERTED_MODEL_UPLOAD_PATH as the writer
    identity. It runs as root: workloads/jobs.py ROOT_IMAGES says why.
    """
    opts = model.options
    return ConversionConfig(
        name=naming.budget_name(model.name, "ft-convert", max_len=MODEL_NAME_MAX),
        model=model.name,
        workload=opts.converter or DEFAULT_CONVERTER,
        image=f"{CONVERTER_IMAGE}:{opts.image_tag}" + (f"@{opts.converter_digest}" if opts.converter_digest else ""),
        command=("./convert_t5.sh",),
        args=(str(model.gpu.count), "$(SOURCE_URI)", "$(DESTINATION_URI)"),
        source=model.source,
        destination=opts.converted_model_upload_path or "",
        # No GPU: the conversion (huggingface_t5_ckpt_convert.py) runs on CPU; upstream's Job
        # (gke/specs/convert.yml) requests none. CPU and memory sized to fit an e2-standard-4
        # system node; its scratch space is predictor.conversionEphemeralStorage.
        gpu=None,
        resources=Resources(cpu="2", memory="8Gi", ephemeral_storage=opts.conversion_ephemeral_storage),
        active_deadline_seconds=opts.conversion_deadline_seconds,
    )


def uses_gcs_fuse(model: ModelConfig) -> bool:
    """The model's pods mount its bucket with GCS FUSE (and so get the driver's sidecar):
    TorchServe reading .mar files from the bucket, Triton with ``repository: fuse``, vLLM with a
    gs:// source (workloads/torchserve.py, triton.py, vllm.py)."""
    opts = model.options
    gs = model.source.startswith("gs://")
    return gs and (
        (model.server == "torchserve" and opts.model_store == "bucket")
        or (model.server == "triton" and opts.repository == "fuse")
        or model.server == "vllm"
    )


def model_image(model: ModelConfig) -> str | None:
    """The image a model runs: configured, or the predictor's seed 001 image; None = server default."""
    if model.image:
        return model.image
    if model.server == "predictor":
        base = PREDICTOR_FT_IMAGE if model.options.faster_transformer else PREDICTOR_IMAGE
        return f"{base}:{model.options.image_tag}"
    return None


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

    problems.extend(_control_plane_checks(cfg))

    if cfg.metrics.custom_metrics_adapter and cfg.metrics.external_adapter:
        add(
            Problem(
                ("metrics", "customMetricsAdapter"),
                True,
                "metrics.externalAdapter says the cluster already owns custom.metrics.k8s.io; a second "
                "APIService owner breaks every HPA: set customMetricsAdapter false",
            )
        )
    problems.extend(_pool_checks(cfg))
    problems.extend(_model_checks(cfg))
    problems.extend(_storage_checks(cfg))
    if not problems:
        # The capacity model reads a config whose other rules hold (pools pair, models have pools).
        problems.extend(_capacity_checks(cfg))
    return problems


def _capacity_checks(cfg: StackConfig) -> list[Problem]:
    """Every pod fits a node of a pool it may land on, and every pool fits its models' minimum
    replicas (infra/capacity.py: GKE's node allocatable, the GCS FUSE sidecar)."""
    from infra import capacity  # capacity reads these models: imported here, not at module load

    problems: list[Problem] = []
    if cfg.cluster.mode == "standard":
        for i, model in enumerate(cfg.models):
            pods = cfg.pools_for(model)
            pod = capacity.model_need(model)
            if pods and capacity.home_pool(cfg, pod, pods) is None:
                problems.append(_misfit(cfg, ("models", i, "resources"), pod, model.resources, pods))
        system = GpuPool(
            name="system",
            accelerator="nvidia-tesla-t4",
            gpus_per_node=1,
            machine_type=cfg.cluster.system_pool.machine_type,
            max_nodes=cfg.cluster.system_pool.max_nodes,
            disk_size_gb=cfg.cluster.system_pool.disk_size_gb,
        )
        for at, conv in cfg.all_conversions:
            pod = capacity.conversion_need(conv)
            pools = cfg.pools_for_gpu(conv.gpu) if conv.gpu else (system,)
            if pools and capacity.home_pool(cfg, pod, pools) is None:
                key = (*at, "resources") if at[0] == "conversions" else at
                problems.append(_misfit(cfg, key, pod, conv.resources, pools))
        for plan in capacity.plan_pools(cfg):
            if plan.needed_min > plan.pool.max_nodes:
                j = cfg.gpu_pools.index(plan.pool)
                models = ", ".join(f"{m} ({lo})" for m, (lo, _) in plan.replicas.items())
                problems.append(
                    Problem(
                        ("gpuPools", j, "maxNodes"),
                        plan.pool.max_nodes,
                        f"the minimum replicas of {models} need {plan.needed_min} nodes of this pool; "
                        f"raise maxNodes to at least {plan.needed_min} or lower their replicas.min",
                    )
                )
    return problems


def _misfit(cfg: StackConfig, at: tuple, pod: Any, requested: Resources, pools: tuple[GpuPool, ...]) -> Problem:
    """The problem for a pod no pool can hold, naming the first resource short and the fix."""
    from infra import capacity

    pool = pools[0]
    alloc = capacity.node_allocatable(pool.machine_type, pool.disk_size_gb)
    key, wanted, have = capacity.shortfalls(pod, alloc)[0]
    owner = "cluster.systemPool" if pool.name == "system" else f"gpuPools[{cfg.gpu_pools.index(pool)}]"
    sidecar = " (with the GCS FUSE sidecar's requests)" if pod.sidecar else ""
    unit = {"cpu": "CPU", "memory": "GiB memory", "ephemeralStorage": "GiB ephemeral storage"}[key]
    fix = (
        f"raise {owner}.diskSizeGb to at least {capacity.disk_for(wanted)}"
        if key == "ephemeralStorage"
        else f"use a larger {owner}.machineType"
    )
    given = {"cpu": requested.cpu, "memory": requested.memory, "ephemeralStorage": requested.ephemeral_storage}[key]
    if at[-1] == "resources":
        path = (*at, key)
    elif key == "ephemeralStorage":  # a FasterTransformer predictor's conversion: its scratch space
        path = (*at, "conversionEphemeralStorage")
    else:  # its CPU and memory are fixed by the stack (predictor_conversion): the node is the fix
        path = at
    return Problem(
        path,
        given,
        f"{pod.workload} needs {wanted:g} {unit}{sidecar}, but a {pool.machine_type} node with a "
        f"{pool.disk_size_gb} GB boot disk ({owner}) gives pods {have:g} {unit} (GKE's node allocatable); "
        f"{fix}, or lower the request",
    )


def _control_plane_checks(cfg: StackConfig) -> list[Problem]:
    """The stack's own Kubernetes calls (pulumi up, and destroy of LoadBalancer Services) must reach
    the control plane from where they run: deploy.yml runs on GitHub-hosted runners, whose
    addresses no authorized network lists. GKE's DNS-based endpoint is gated by IAM, not by
    authorized networks (IPEndpointsConfig holds authorizedNetworksConfig; DNSEndpointConfig has
    none: container.v1 discovery document)."""
    cl = cfg.cluster
    problems: list[Problem] = []
    if cl.kubeconfig_endpoint == "dns" and not cl.dns_endpoint and cl.mode != "existing":
        problems.append(
            Problem(
                ("cluster", "kubeconfigEndpoint"),
                "dns",
                "needs the DNS endpoint, which cluster.dnsEndpoint: false turns off; set dnsEndpoint true or use ip",
            )
        )
    if cl.kubeconfig_via != "ip" or not cl.master_authorized_networks:
        return problems
    nets = [ipaddress.ip_network(n.cidr) for n in cl.master_authorized_networks]
    if not cl.deploy_networks:
        problems.append(
            Problem(
                ("cluster", "kubeconfigEndpoint"),
                "ip",
                "the IP endpoint admits only masterAuthorizedNetworks, and the deploy workflow's GitHub-hosted "
                "runners are in none of them, so every Kubernetes object would time out; use "
                "kubeconfigEndpoint: dns (IAM-gated), or list the networks pulumi runs from in cluster.deployNetworks",
            )
        )
    for i, cidr in enumerate(cl.deploy_networks):
        net = ipaddress.ip_network(cidr)
        if not any(net.version == a.version and net.subnet_of(a) for a in nets):
            problems.append(
                Problem(
                    ("cluster", "deployNetworks", i),
                    cidr,
                    "is not inside any of masterAuthorizedNetworks, so pulumi cannot reach the IP endpoint from "
                    "it; add it there or use kubeconfigEndpoint: dns",
                )
            )
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
        disks = catalog.BOOT_DISK_TYPES.get(catalog.machine_family(pool.machine_type), ())
        if disks and pool.disk_type not in disks:
            problems.append(
                Problem(
                    (*at, "diskType"),
                    pool.disk_type,
                    f"{catalog.machine_family(pool.machine_type).upper()} machines do not take {pool.disk_type} boot "
                    f"disks; use one of {', '.join(disks)}",
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


def _latest(cfg: StackConfig, path: tuple, image: str | None) -> list[Problem]:
    """No ``latest`` tag (explicit or by omission) outside dev."""
    if image is None or cfg.environment == "dev":
        return []
    tag = image_tag(image)
    if tag is not None and tag != "latest":
        return []
    return [
        Problem(
            path,
            image,
            f"uses the latest tag (explicitly or by omission), allowed only in dev; pin a "
            f"version tag or digest for {cfg.environment}",
        )
    ]


def _service_checks(cfg: StackConfig, at: tuple, service: ServiceConfig, service_type: str) -> list[Problem]:
    problems = []
    if service_type == "LoadBalancer" and cfg.environment == "prod" and not service.allow_in_prod:
        problems.append(
            Problem(
                (*at, "service", "type"),
                "LoadBalancer",
                "a LoadBalancer in prod needs the explicit flag service.allowInProd: true (GKE creates "
                "load balancers and firewall rules outside the stack); set it or use ClusterIP/NodePort",
            )
        )
    if service.allow_from and service_type == "ClusterIP":
        problems.append(
            Problem(
                (*at, "service", "allowFrom"),
                list(service.allow_from),
                "only NodePort and LoadBalancer services are reachable from outside the cluster; "
                "remove allowFrom or set service.type",
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
        image_path = (*at, "image") if model.image else (*at, "predictor", "imageTag")
        problems.extend(_latest(cfg, image_path, model_image(model)))
        problems.extend(_server_checks(model, at))
        problems.extend(_service_checks(cfg, at, model.service, model.service_type))
        if model.gpu.driver_version is not None and not cfg.autopilot:
            problems.append(
                Problem(
                    (*at, "gpu", "driverVersion"),
                    model.gpu.driver_version,
                    "selects a GKE-managed driver on Autopilot only; on Standard the pool's driver "
                    "decides (gpuPools[].driver), so remove it",
                )
            )
        problems.extend(_autoscaling_checks(cfg, at, model))
        if cfg.cluster.mode == "standard":
            problems.extend(_standard_fit(cfg, (*at, "gpu"), model.gpu))
        if cfg.autopilot:
            problems.extend(_autopilot_fit(at, model.gpu, model.resources))
    problems.extend(_conversion_checks(cfg))
    problems.extend(_app_checks(cfg))
    return problems


def pool_capacity(pool: GpuPool, gpu: ModelGpu) -> int:
    """Pods asking for ``gpu`` that ``pool`` holds at maxNodes (shared GPUs take one client each)."""
    per_node = pool.gpus_per_node // gpu.count
    if pool.sharing is not None:
        per_node = pool.gpus_per_node * pool.sharing.max_clients_per_gpu
    return pool.max_nodes * per_node


def _autoscaling_checks(cfg: StackConfig, at: tuple, model: ModelConfig) -> list[Problem]:
    problems: list[Problem] = []
    pools = cfg.pools_for(model) if cfg.cluster.mode == "standard" else ()
    capacity = sum(pool_capacity(p, model.gpu) for p in pools)
    if pools and model.replicas.max > capacity:
        names = ", ".join(p.name for p in pools)
        problems.append(
            Problem(
                (*at, "replicas", "max"),
                model.replicas.max,
                f"pools {names} hold at most {capacity} pods of this model (maxNodes x gpusPerNode / gpu.count); "
                "the rest would sit Pending: lower replicas.max or raise maxNodes",
            )
        )
    auto = model.autoscaling
    if auto is None:
        return problems
    m = cfg.metrics
    if not m.custom_metrics_adapter and not m.external_adapter:
        problems.append(
            Problem(
                (*at, "autoscaling"),
                [s.signal for s in auto.signals],
                "needs the custom-metrics API: set metrics.customMetricsAdapter true, or metrics.externalAdapter "
                "true if the cluster already runs one (else the HPA shows <unknown>)",
            )
        )
    if model.replicas.min < 1:
        problems.append(
            Problem(
                (*at, "replicas", "min"),
                model.replicas.min,
                "an HPA needs minReplicas >= 1 (scale to zero is an alpha feature); set replicas.min to 1",
            )
        )
    gke_drivers = cfg.autopilot or cfg.cluster.mode == "existing" or any(p.driver != "daemonset" for p in pools)
    for j, sig in enumerate(auto.signals):
        entry = signals.SIGNALS[sig.signal]
        if model.server not in entry.servers:
            offered = ", ".join(signals.signals_for(model.server))
            problems.append(
                Problem(
                    (*at, "autoscaling", "signals", j, "signal"),
                    sig.signal,
                    f"{model.server} does not export {sig.signal}; use one of {offered}",
                )
            )
        if entry.source == "dcgm" and not gke_drivers:
            problems.append(
                Problem(
                    (*at, "autoscaling", "signals", j, "signal"),
                    sig.signal,
                    "GPU metrics come from GKE's DCGM exporter, which needs GKE-managed drivers; the pools "
                    "serving this model use driver: daemonset. Use a queue signal or gke-default drivers",
                )
            )
        if sig.signal == "gpu-memory" and model.server == "vllm":
            problems.append(
                Problem(
                    (*at, "autoscaling", "signals", j, "signal"),
                    sig.signal,
                    "vLLM pre-allocates gpuMemoryUtilization of GPU memory, so this signal never falls and "
                    "the HPA would only scale up; use queue-size or batch-size",
                )
            )
    for j, first in _repeats([s.signal for s in auto.signals]).items():
        problems.append(
            Problem(
                (*at, "autoscaling", "signals", j, "signal"),
                auto.signals[j].signal,
                f"repeats signals[{first}]; give each signal once",
            )
        )
    return problems


def _server_checks(model: ModelConfig, at: tuple) -> list[Problem]:
    problems = []
    for block in ("torchserve", "triton", "vllm", "predictor"):
        if block != model.server and getattr(model, block) is not None:
            problems.append(
                Problem(
                    (*at, block),
                    block,
                    f"options for the {block} server, but this model's server is {model.server}; "
                    f"remove the block or move its settings under {model.server}",
                )
            )
    opts = model.options
    gs_only = {
        "triton": "Triton reads its model repository from GCS",
        "predictor": "the predictor downloads MODEL_SOURCE_PATH from GCS (seed 001)",
    }
    if model.server == "torchserve" and opts.model_store == "bucket":
        gs_only["torchserve"] = "torchserve.modelStore: bucket mounts the source with GCS FUSE"
    if model.server in gs_only and not model.source.startswith("gs://"):
        problems.append(
            Problem(
                (*at, "source"),
                model.source,
                f"must be a gs:// URI: {gs_only[model.server]}; copy the model to a bucket or serve it with vllm",
            )
        )
    if model.server == "torchserve" and opts.model_store == "image" and not model.image:
        problems.append(
            Problem(
                (*at, "image"),
                None,
                "torchserve.modelStore: image serves the .mar files baked into the model image (seed 000); "
                "set image, or set torchserve.modelStore: bucket to load them from the source",
            )
        )
    if model.server == "vllm" and opts.tensor_parallel_size not in (None, model.gpu.count):
        problems.append(
            Problem(
                (*at, "vllm", "tensorParallelSize"),
                opts.tensor_parallel_size,
                f"must equal gpu.count ({model.gpu.count}): vLLM shards the model over exactly the GPUs "
                "the pod gets; remove it or change gpu.count",
            )
        )
    if model.server == "triton" and opts.load_models and opts.model_control_mode != "explicit":
        problems.append(
            Problem(
                (*at, "triton", "loadModels"),
                list(opts.load_models),
                "Triton accepts --load-model only with modelControlMode: explicit; set it or remove loadModels",
            )
        )
    if model.server == "predictor" and opts.faster_transformer and not opts.converted_model_upload_path:
        problems.append(
            Problem(
                (*at, "predictor", "convertedModelUploadPath"),
                None,
                "is required when predictor.fasterTransformer is true (seed 001's CONVERTED_MODEL_UPLOAD_PATH): "
                "set the gs:// path the conversion Job writes, e.g. gs://{converted}/<model>/1/Model",
            )
        )
    if model.shm_size is not None and parse_quantity(model.shm_size) >= parse_quantity(model.resources.memory):
        problems.append(
            Problem(
                (*at, "shmSize"),
                model.shm_size,
                f"must be below resources.memory ({model.resources.memory}): /dev/shm is a Memory emptyDir "
                "that counts against the container's memory limit",
            )
        )
    return problems


# Where a synthesized (predictor) conversion's fields live in the config.
_PREDICTOR_CONVERSION_KEYS = {"workload": "converter", "destination": "convertedModelUploadPath", "image": "imageTag"}


def _conversion_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    conversions = cfg.all_conversions
    repeated = _repeats([c.name for _, c in conversions])
    models = ", ".join(m.name for m in cfg.models) or "none"
    for n, (at, conv) in enumerate(conversions):
        synthesized = at[0] == "models"

        def key(field: str, at=at, synthesized=synthesized) -> tuple:
            return (*at, _PREDICTOR_CONVERSION_KEYS.get(field, field)) if synthesized else (*at, field)

        if n in repeated:
            problems.append(
                Problem(key("name"), conv.name, "repeats another conversion's name; Job names must be unique")
            )
        if conv.model is not None and cfg.model(conv.model) is None:
            problems.append(
                Problem(key("model"), conv.model, f"is not a served model (models: {models}); fix the name")
            )
        problems.extend(_latest(cfg, key("image"), conv.image))
        grant = cfg.grant(conv.workload)
        if grant is None:
            problems.append(
                Problem(
                    key("workload"),
                    conv.workload,
                    "is not a workload of storage.access; add a grant that reads the source bucket and "
                    "writes the destination bucket (only conversion jobs write)",
                )
            )
        else:
            dest, src = bucket_ref(conv.destination), bucket_ref(conv.source)
            if dest is not None and dest not in grant.writes:
                problems.append(
                    Problem(
                        key("destination"),
                        conv.destination,
                        f"is in bucket {{{dest}}}, which storage.access workload {grant.workload} does not "
                        f"write; add {dest} to its writes",
                    )
                )
            if src is not None and src not in grant.reads + grant.writes:
                problems.append(
                    Problem(
                        key("workload"),
                        conv.workload,
                        f"does not read bucket {{{src}}} of the source {conv.source}; add {src} to its reads",
                    )
                )
        for uri, field in ((conv.source, "source"), (conv.destination, "destination")):
            ref = bucket_ref(uri)
            if ref is not None and cfg.bucket(ref) is None:
                problems.append(
                    Problem(key(field), uri, f"refers to bucket {{{ref}}}, which storage.buckets does not declare")
                )
        if conv.gpu is not None and not synthesized:
            if cfg.cluster.mode == "standard":
                problems.extend(_standard_fit(cfg, key("gpu"), conv.gpu))
            if cfg.autopilot:
                problems.extend(_autopilot_fit(at, conv.gpu, conv.resources))
    return problems


def _app_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    servers = {m.name: m.server for m in cfg.models}
    if cfg.webapp is not None:
        at = ("webapp",)
        if servers.get(cfg.webapp.model) != "torchserve":
            torchserve = ", ".join(n for n, s in servers.items() if s == "torchserve") or "none"
            problems.append(
                Problem(
                    (*at, "model"),
                    cfg.webapp.model,
                    f"the front end calls TorchServe's prediction and management APIs (seed 000); name a "
                    f"torchserve model (torchserve models: {torchserve})",
                )
            )
        problems.extend(_latest(cfg, (*at, "image"), cfg.webapp.image))
        problems.extend(_service_checks(cfg, at, cfg.webapp.service, cfg.webapp.service.type or "ClusterIP"))
    if cfg.load_test is not None:
        at = ("loadTest",)
        if cfg.load_test.model not in servers:
            problems.append(
                Problem(
                    (*at, "model"),
                    cfg.load_test.model,
                    f"is not a served model (models: {', '.join(servers) or 'none'}); fix the name",
                )
            )
        problems.extend(_latest(cfg, (*at, "image"), cfg.load_test.image))
        if servers.get(cfg.load_test.model) == "triton" and not (cfg.load_test.path and cfg.load_test.body):
            problems.append(
                Problem(
                    (*at, "body"),
                    cfg.load_test.body,
                    "a Triton request names the model's own input tensors; set loadTest.path "
                    "(e.g. /v2/models/<name>/infer) and loadTest.body",
                )
            )
    return problems


def _standard_fit(cfg: StackConfig, at: tuple, gpu: ModelGpu) -> list[Problem]:
    same_type = [p for p in cfg.gpu_pools if p.accelerator == gpu.type]
    if not same_type:
        pools = ", ".join(f"{p.name} ({p.accelerator})" for p in cfg.gpu_pools) or "none"
        return [
            Problem(
                (*at, "type"),
                gpu.type,
                f"no GPU pool serves {gpu.type} (pools: {pools}); add a gpuPools entry with "
                f"accelerator: {gpu.type} or change the model's GPU",
            )
        ]
    if not cfg.pools_for_gpu(gpu):
        best = max(p.gpus_per_node for p in same_type)
        shared = [p.name for p in same_type if p.sharing]
        hint = f" (pools {', '.join(shared)} share GPUs, which allows 1 GPU per container)" if shared else ""
        return [
            Problem(
                (*at, "count"),
                gpu.count,
                f"no {gpu.type} pool has {gpu.count} GPUs per node (largest: {best}){hint}; "
                "lower gpu.count or add a pool with more gpusPerNode",
            )
        ]
    return []


def _autopilot_fit(at: tuple, gpu: ModelGpu, resources: Resources) -> list[Problem]:
    acc = catalog.ACCELERATORS[gpu.type]
    limits = acc.autopilot.get(gpu.count)
    if limits is None:
        counts = ", ".join(str(c) for c in acc.autopilot)
        return [
            Problem(
                (*at, "gpu", "count"),
                gpu.count,
                f"Autopilot offers {acc.display} pods with {counts} GPUs; use one of those",
            )
        ]
    problems = []
    cpu = parse_quantity(resources.cpu)
    mem_gib = parse_quantity(resources.memory) / 2**30
    if not limits.cpu_min <= cpu <= limits.cpu_max:
        problems.append(
            Problem(
                (*at, "resources", "cpu"),
                resources.cpu,
                f"Autopilot allows {limits.cpu_min}-{limits.cpu_max} vCPU for {gpu.count} x "
                f"{acc.display} (maximum from {limits.basis}); set resources.cpu inside that range",
            )
        )
    if not limits.memory_min_gib <= mem_gib <= limits.memory_max_gib:
        problems.append(
            Problem(
                (*at, "resources", "memory"),
                resources.memory,
                f"Autopilot allows {limits.memory_min_gib}-{limits.memory_max_gib} GiB for "
                f"{gpu.count} x {acc.display} (maximum from {limits.basis}); set resources.memory inside that range",
            )
        )
    return problems


# Loading and error reporting -------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration that breaks one or more rules. ``str()`` is one line per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


# pydantic error kinds of a value of the wrong shape -> what the key must be instead.
_SHAPE_ERRORS = {
    "model_type": "not a mapping: write its settings as a YAML mapping (key: value lines indented below it)",
    "dict_type": "not a mapping: write it as a YAML mapping (key: value lines indented below it)",
    "list_type": "not a list: write it as a YAML sequence (one '- item' line per entry)",
    "tuple_type": "not a list: write it as a YAML sequence (one '- item' line per entry)",
}


def _yaml_kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def read_stack_file(path: Path) -> dict[str, Any]:
    """A parsed ``Pulumi.<stack>.yaml``; a malformed one is one :class:`ConfigError` line naming the
    file, the line or key, and the fix, never a traceback."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark, start = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if start is not None and getattr(exc, "context", None):
            what += f", {exc.context} begun on line {start.line + 1}"
        raise ConfigError([f"{path.name}{where}: YAML syntax error ({what}); fix the YAML there"]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(
            [f"{path.name}: is a YAML {_yaml_kind(doc)}, not a mapping; a stack file is a mapping with a config: key"]
        )
    config = doc.get("config")
    if config is not None and not isinstance(config, dict):
        raise ConfigError(
            [
                f"{path.name}: config: is a {_yaml_kind(config)}, not a mapping; write one 'namespace:key: value' line per key below it"
            ]
        )
    return doc


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
        elif kind in _SHAPE_ERRORS:
            lines.append(
                f"{key_path(loc)} = {json.dumps(value, default=str)}: is a {_yaml_kind(value)}, {_SHAPE_ERRORS[kind]} "
                "(see the config reference in README.md)"
            )
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
