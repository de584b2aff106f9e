"""The whole stack: :class:`StackConfig` (every key, and the values derived from them) and
:func:`cross_checks`, which runs every concern's rules in a fixed order."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from infra import catalog, naming
from infra.config.apps import (
    ConversionConfig,
    LoadTestConfig,
    WebappConfig,
    _app_checks,
    _conversion_checks,
    predictor_conversion,
)
from infra.config.autoscaling import MetricsConfig, metrics_checks
from infra.config.base import NAME_PREFIX_MAX, Environment, Problem, _dns_name, _Model
from infra.config.cluster import ClusterConfig, NetworkConfig, cluster_checks
from infra.config.coldstart import _cold_start_checks
from infra.config.compute import ComputeClassConfig, compute_class_checks
from infra.config.gateway import DEFAULT_PROXY_ONLY_CIDR, _gateway_checks, gateway_enabled
from infra.config.models import ModelConfig, ModelGpu, _model_checks
from infra.config.pools import GpuPool, _capacity_checks, _pool_checks, pool_can_hold
from infra.config.registry import RegistryConfig, _registry_checks
from infra.config.storage import (
    AccessGrant,
    BucketConfig,
    IdentityConfig,
    StorageConfig,
    _storage_checks,
    bucket_fate,
    protect_default,
    retain_default,
)


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
    compute_classes: tuple[ComputeClassConfig, ...] = ()
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

    @property
    def gateway_models(self) -> tuple[ModelConfig, ...]:
        """The models served through an Inference Gateway (vLLM; on by default in prod)."""
        return tuple(m for m in self.models if gateway_enabled(self.environment, m))

    @property
    def proxy_only_cidr(self) -> str | None:
        """Range of the proxy-only subnet the gateways' proxies connect from (None: no gateway, or a
        range the config has not given, which the gateway rules report)."""
        if not self.gateway_models:
            return None
        if self.cluster.mode == "existing":
            return self.cluster.existing_proxy_only_cidr
        net = self.effective_network
        if net.proxy_only_cidr is not None:
            return net.proxy_only_cidr
        return DEFAULT_PROXY_ONLY_CIDR if net.mode == "create" else None

    def bucket(self, key: str) -> BucketConfig | None:
        return next((b for b in self.storage.buckets if b.name == key), None)

    def protect_bucket(self, bucket: BucketConfig) -> bool:
        return protect_default(self.environment, bucket.protect)

    def retain_bucket(self, bucket: BucketConfig) -> bool:
        return retain_default(self.environment, bucket.retain_on_delete)

    @property
    def flow_logs(self) -> bool:
        fl = self.effective_network.flow_logs
        return fl.enabled if fl.enabled is not None else self.environment == "prod"

    @property
    def intranode_visibility(self) -> bool:
        iv = self.cluster.intranode_visibility
        return iv if iv is not None else (self.environment == "prod" and self.cluster.mode == "standard")

    @property
    def binary_authorization(self) -> bool:
        ba = self.cluster.binary_authorization
        return ba if ba is not None else self.environment == "prod"

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
        """The configured pools a model's pods can schedule onto (none when it uses a compute class)."""
        if model.compute_class is not None:
            return ()
        return self.pools_for_gpu(model.gpu)

    def compute_class(self, name: str | None) -> ComputeClassConfig | None:
        return next((c for c in self.compute_classes if c.name == name), None)

    def class_models(self, name: str) -> tuple[ModelConfig, ...]:
        """The models that schedule on compute class ``name``."""
        return tuple(m for m in self.models if m.compute_class == name)

    def pools_for_gpu(self, gpu: ModelGpu) -> tuple[GpuPool, ...]:
        return tuple(p for p in self.gpu_pools if pool_can_hold(p, gpu))


def cross_checks(cfg: StackConfig) -> list[Problem]:
    """The DESIGN.md section 4 rules that span more than one key, concern by concern, in a fixed
    order (the order of the error lines). Pure: config in, problems out."""
    problems = [
        *cluster_checks(cfg),
        *metrics_checks(cfg),
        *_pool_checks(cfg),
        *compute_class_checks(cfg),
        *_model_checks(cfg),
        *_gateway_checks(cfg),
        *_cold_start_checks(cfg),
        *_conversion_checks(cfg),
        *_app_checks(cfg),
        *_storage_checks(cfg),
        *_registry_checks(cfg),
    ]
    if not problems:
        # The capacity model reads a config whose other rules hold (pools pair, models have pools).
        problems.extend(_capacity_checks(cfg))
    return problems
