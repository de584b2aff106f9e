"""``gke-gpu-serving:models``: a served model (server, GPU, source, image, replicas, resources,
service) and each server's options block (TorchServe, Triton, vLLM, the LLM-pipeline predictor),
with the rules about one model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra import catalog, naming
from infra.config.autoscaling import AutoscalingConfig, _autoscaling_checks
from infra.config.base import (
    MODEL_NAME_MAX,
    AcceleratorName,
    Problem,
    Server,
    _dns_name,
    _Model,
    _quantity_field,
    _repeats,
)
from infra.config.coldstart import FuseCacheConfig, LoadFormat
from infra.config.gateway import GatewayConfig
from infra.config.pools import _autopilot_fit, _standard_fit
from infra.config.values import _cidr, _digest, _gs, _gs_or_hf, _image_ref, bucket_ref, image_tag, parse_quantity

if TYPE_CHECKING:
    from infra.config.stack import StackConfig


DEFAULT_PREDICTOR_KSA = "aiinfra-gke-sa"  # seed 001's KSA_NAME default


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
    load_format: LoadFormat = Field(
        "auto", description="runai_streamer: stream safetensors from gs:// (needs an image with vllm[runai])"
    )


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
    compute_class: str | None = Field(
        None, description="a computeClasses[].name: schedule on that class's capacity chain instead of gpuPools"
    )
    shm_size: str | None = Field(None, description="/dev/shm size limit; default per server")
    startup_seconds: int | None = Field(
        None, ge=30, le=7200, description="startup probe budget; default: derived from the cold-start estimate"
    )
    weights_gb: float | None = Field(
        None, gt=0, description="size of the weight files (GB): sizes the FUSE cache and the cold-start estimate"
    )
    image_gb: float | None = Field(None, gt=0, description="size of the server image (GB) for the estimate")
    fuse_cache: FuseCacheConfig | None = Field(
        None, description="GCS FUSE file cache; default: on disk when weightsGb is set"
    )
    run_as_user: int = Field(1000, ge=1, description="non-root UID the server runs as")
    torchserve: TorchServeOptions | None = None
    triton: TritonOptions | None = None
    vllm: VllmOptions | None = None
    predictor: PredictorOptions | None = None
    autoscaling: AutoscalingConfig | None = None
    gateway: GatewayConfig | None = Field(None, description="vLLM only: serve through GKE's Inference Gateway")

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


PREDICTOR_IMAGE = "gcr.io/llm-containers/predict"  # seed 001 without FasterTransformer
PREDICTOR_FT_IMAGE = "gcr.io/llm-containers/predict-triton"  # seed 001 with FasterTransformer


def model_image(model: ModelConfig) -> str | None:
    """The image a model runs: configured, or the predictor's seed 001 image; None = server default."""
    if model.image:
        return model.image
    if model.server == "predictor":
        base = PREDICTOR_FT_IMAGE if model.options.faster_transformer else PREDICTOR_IMAGE
        return f"{base}:{model.options.image_tag}"
    return None


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
        if model.gpu.driver_version is not None and not cfg.autopilot and model.compute_class is None:
            problems.append(
                Problem(
                    (*at, "gpu", "driverVersion"),
                    model.gpu.driver_version,
                    "selects a GKE-managed driver on Autopilot only; on Standard the pool's driver "
                    "decides (gpuPools[].driver), so remove it",
                )
            )
        problems.extend(_autoscaling_checks(cfg, at, model))
        if cfg.cluster.mode == "standard" and model.compute_class is None:
            problems.extend(_standard_fit(cfg, (*at, "gpu"), model.gpu))
        if cfg.autopilot:
            problems.extend(_autopilot_fit(at, model.gpu, model.resources))
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
