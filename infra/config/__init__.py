"""The whole stack configuration as frozen pydantic models, validated before any resource exists.

``load()`` reads every ``gke-gpu-serving:*`` key (and ``gcp:project`` / ``gcp:region``) from the
Pulumi config, parses the tree, then runs :func:`cross_checks`, the rules that span keys (a T4 on
a G2 machine, a model no pool can hold, a node pool in Autopilot). A bad config never reaches
Pulumi: :class:`ConfigError` lists one line per problem, each naming the config key path
(``gke-gpu-serving:gpuPools[0].machineType``), the bad value and the fix.

One module per concern holds its models and the rules about them (README, "Where things are"):

- :mod:`~infra.config.cluster`: ``network``, ``cluster``
- :mod:`~infra.config.pools`: ``gpuPools``, and the capacity rules
- :mod:`~infra.config.models`: ``models`` and each server's options
- :mod:`~infra.config.autoscaling`: ``models[].autoscaling``, ``metrics``
- :mod:`~infra.config.storage`: ``storage``, ``identity``
- :mod:`~infra.config.registry`: ``registry`` (the stack's repositories, remote caches, image mirroring)
- :mod:`~infra.config.apps`: ``conversions``, ``webapp``, ``loadTest``
- :mod:`~infra.config.stack`: :class:`StackConfig` and :func:`cross_checks`
- :mod:`~infra.config.load`: reading stack files and Pulumi config, error lines
- :mod:`~infra.config.values`: quantities, image references, URIs (no models: workloads import it)

Keys are camelCase in YAML (as Pulumi users write them) and snake_case in Python. This package
re-exports the names the rest of the program uses.
"""

from infra.config.apps import (
    CONVERTER_IMAGE,
    DEFAULT_CONVERTER,
    LOADTEST_MAX_RATE,
    LOADTEST_MAX_SECONDS,
    LOADTEST_MAX_USERS,
    LOCUST_IMAGE,
    ConversionConfig,
    LoadTestConfig,
    WebappConfig,
    predictor_conversion,
)
from infra.config.autoscaling import AutoscalingConfig, Behavior, MetricsConfig, SignalConfig
from infra.config.base import (
    GCP_KEYS,
    MODEL_NAME_MAX,
    NAME_PREFIX_MAX,
    NAMESPACE,
    POOL_KEY_MAX,
    AcceleratorName,
    ClusterMode,
    ComponentArgs,
    Driver,
    Environment,
    ImageType,
    Problem,
    ReleaseChannel,
    Server,
)
from infra.config.cluster import AuthorizedNetwork, ClusterConfig, FlowLogs, NetworkConfig, SystemPool
from infra.config.coldstart import FuseCacheConfig, cache_bytes, fuse_cache, uses_gcs_fuse
from infra.config.compute import (
    CAPACITY_ORDER,
    COMPUTE_CLASS_LABEL,
    ClassPriority,
    ComputeClassConfig,
    Reservation,
)
from infra.config.load import (
    ConfigError,
    decode_value,
    format_errors,
    key_path,
    load,
    parse,
    raw_from_pulumi,
    read_stack_file,
)
from infra.config.models import (
    DEFAULT_PREDICTOR_KSA,
    PREDICTOR_FT_IMAGE,
    PREDICTOR_IMAGE,
    ModelConfig,
    ModelGpu,
    PredictorOptions,
    Replicas,
    Resources,
    ServiceAccountRef,
    ServiceConfig,
    ServiceType,
    TorchServeOptions,
    TritonOptions,
    VllmOptions,
    model_image,
)
from infra.config.pools import GpuPool, GpuSharing, pool_can_hold, pool_capacity
from infra.config.registry import UPSTREAMS, CachedImages, RegistryConfig, RemoteConfig, Upstream
from infra.config.stack import StackConfig, cross_checks
from infra.config.storage import (
    BUCKET_FATES,
    AccessGrant,
    BucketConfig,
    IdentityConfig,
    StorageConfig,
    bucket_fate,
    identity_subjects,
    protect_default,
    retain_default,
)
from infra.config.values import bucket_ref, image_tag, parse_quantity

__all__ = [
    "BUCKET_FATES",
    "CAPACITY_ORDER",
    "COMPUTE_CLASS_LABEL",
    "CONVERTER_IMAGE",
    "DEFAULT_CONVERTER",
    "DEFAULT_PREDICTOR_KSA",
    "GCP_KEYS",
    "LOADTEST_MAX_RATE",
    "LOADTEST_MAX_SECONDS",
    "LOADTEST_MAX_USERS",
    "LOCUST_IMAGE",
    "MODEL_NAME_MAX",
    "NAMESPACE",
    "NAME_PREFIX_MAX",
    "POOL_KEY_MAX",
    "PREDICTOR_FT_IMAGE",
    "PREDICTOR_IMAGE",
    "UPSTREAMS",
    "AcceleratorName",
    "AccessGrant",
    "AuthorizedNetwork",
    "AutoscalingConfig",
    "Behavior",
    "BucketConfig",
    "CachedImages",
    "ClassPriority",
    "ClusterConfig",
    "ClusterMode",
    "ComponentArgs",
    "ComputeClassConfig",
    "ConfigError",
    "ConversionConfig",
    "Driver",
    "Environment",
    "FlowLogs",
    "FuseCacheConfig",
    "GpuPool",
    "GpuSharing",
    "IdentityConfig",
    "ImageType",
    "LoadTestConfig",
    "MetricsConfig",
    "ModelConfig",
    "ModelGpu",
    "NetworkConfig",
    "PredictorOptions",
    "Problem",
    "RegistryConfig",
    "ReleaseChannel",
    "RemoteConfig",
    "Replicas",
    "Reservation",
    "Resources",
    "Server",
    "ServiceAccountRef",
    "ServiceConfig",
    "ServiceType",
    "SignalConfig",
    "StackConfig",
    "StorageConfig",
    "SystemPool",
    "TorchServeOptions",
    "TritonOptions",
    "Upstream",
    "VllmOptions",
    "WebappConfig",
    "bucket_fate",
    "bucket_ref",
    "cache_bytes",
    "cross_checks",
    "decode_value",
    "format_errors",
    "fuse_cache",
    "identity_subjects",
    "image_tag",
    "key_path",
    "load",
    "model_image",
    "parse",
    "parse_quantity",
    "pool_can_hold",
    "pool_capacity",
    "predictor_conversion",
    "protect_default",
    "raw_from_pulumi",
    "read_stack_file",
    "retain_default",
    "uses_gcs_fuse",
]
