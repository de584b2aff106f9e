"""``gke-gpu-serving:conversions``, ``webapp`` and ``loadTest``: the conversion Jobs (configured, and
the one a FasterTransformer predictor needs), seed 000's front end, the bounded load generator."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from infra import naming
from infra.config.base import MODEL_NAME_MAX, Problem, _dns_name, _Model, _repeats
from infra.config.models import ModelConfig, ModelGpu, Resources, ServiceConfig, _latest, _service_checks
from infra.config.pools import _autopilot_fit, _standard_fit
from infra.config.values import _gs, _gs_or_hf, _image_ref, bucket_ref

if TYPE_CHECKING:
    from infra.config.stack import StackConfig


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
