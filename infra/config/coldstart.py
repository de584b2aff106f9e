"""``models[].weightsGb``, ``models[].imageGb``, ``models[].fuseCache`` and ``vllm.loadFormat``:
what a new replica has to fetch before it answers, how the GCS FUSE mount caches it, and the
rules about them. The estimate built from these keys (and the sidecar sizes the capacity model
reads) is :mod:`infra.coldstart`.

Facts relied on (README "Cold start" gives them in full):

- the GCS FUSE file cache is enabled by a non-zero ``file-cache:max-size-mb``; with it, parallel
  downloads (``file-cache:enable-parallel-downloads``) fetch one large file with many workers,
  "up to nine times faster model load time", and are recommended "for single-threaded read
  scenarios that load large files such as model serving" (Cloud Storage, "Cloud Storage FUSE file
  caching"); GKE recommends mount options over volume attributes for these settings (GKE, "Cloud
  Storage FUSE CSI driver volume attributes", fileCacheCapacity);
- on disk the cache is the sidecar's ``gke-gcsfuse-cache`` emptyDir, which the webhook adds when
  the pod has none (GoogleCloudPlatform/gcs-fuse-csi-driver pkg/webhook/sidecar_spec.go, 5fcdc04a);
  a pod may bring its own, for example a ``Memory`` one (accelerated-platforms
  AchievingFasterPodStartup.md, 8e737275);
- vLLM 0.11.0 streams safetensors from ``gs://`` with ``--load-format runai_streamer``
  (vllm/transformers_utils/runai_utils.py SUPPORTED_SCHEMES, from the vllm==0.11.0 wheel) when the
  ``runai`` extra is installed (runai-model-streamer, -gcs, google-cloud-storage: the wheel's
  METADATA); the vllm/vllm-openai:v0.11.0 image does not install the GCS part (vllm PR #26464,
  merged 2025-10-09, after the v0.11.0 release), so the option needs an image that does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra.config.base import Problem, _Model, _quantity_field
from infra.config.values import parse_quantity

if TYPE_CHECKING:
    from infra.config.models import ModelConfig
    from infra.config.stack import StackConfig

CacheMedium = Literal["disk", "memory", "none"]
LoadFormat = Literal["auto", "runai_streamer"]
# Headroom above the weights the cache is sized for: a model folder carries config, tokenizer and
# index files beside its weights (our margin, not a documented figure).
CACHE_HEADROOM = 1.10


class FuseCacheConfig(_Model):
    """The GCS FUSE file cache (and parallel downloads) of a model that reads its bucket with GCS FUSE."""

    medium: CacheMedium = Field(
        "disk",
        description="disk: the sidecar's emptyDir on the node's boot disk (counts against its ephemeral "
        "storage); memory: a Memory emptyDir (counts against its memory); none: no file cache",
    )
    size: str | None = Field(None, description="cache capacity; default: weightsGb plus 10%")
    parallel_downloads: bool = Field(True, description="file-cache:enable-parallel-downloads (needs the cache)")

    _check = field_validator("size")(lambda v: v if v is None else _quantity_field(v))


def fuse_cache(model: ModelConfig) -> FuseCacheConfig:
    """The model's cache settings: as configured, else on disk when the weights' size is known
    (it sizes the cache), else none."""
    if model.fuse_cache is not None:
        return model.fuse_cache
    return FuseCacheConfig(medium="disk" if model.weights_gb else "none")


def cache_bytes(model: ModelConfig) -> int:
    """Bytes the file cache may hold (0: no cache): ``fuseCache.size``, else the weights plus headroom."""
    cache = fuse_cache(model)
    if cache.medium == "none":
        return 0
    if cache.size is not None:
        return int(parse_quantity(cache.size))
    return int((model.weights_gb or 0) * 1e9 * CACHE_HEADROOM)


def uses_gcs_fuse(model: ModelConfig) -> bool:
    """The model's pods mount its bucket with GCS FUSE (and so get the driver's sidecar):
    TorchServe reading .mar files from the bucket, Triton with ``repository: fuse``, vLLM with a
    gs:// source it does not stream (workloads/torchserve.py, triton.py, vllm.py)."""
    opts = model.options
    gs = model.source.startswith("gs://")
    return gs and (
        (model.server == "torchserve" and opts.model_store == "bucket")
        or (model.server == "triton" and opts.repository == "fuse")
        or (model.server == "vllm" and opts.load_format != "runai_streamer")
    )


def _cold_start_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    for i, model in enumerate(cfg.models):
        at = ("models", i)
        given = model.fuse_cache
        streams = model.server == "vllm" and model.options.load_format == "runai_streamer"
        if given is not None and not uses_gcs_fuse(model):
            why = "it streams its weights (vllm.loadFormat: runai_streamer)" if streams else "it mounts no bucket"
            problems.append(
                Problem(
                    (*at, "fuseCache"),
                    given.medium,
                    f"configures a GCS FUSE file cache, but {why}: only TorchServe with modelStore: bucket, "
                    "Triton with repository: fuse and vLLM reading gs:// through FUSE mount one; remove it",
                )
            )
        elif given is not None and given.medium != "none" and given.size is None and not model.weights_gb:
            problems.append(
                Problem(
                    (*at, "fuseCache", "size"),
                    None,
                    f"is needed for a {given.medium} cache when weightsGb is not set (the cache is sized from "
                    "the weights): set weightsGb or fuseCache.size",
                )
            )
        if given is not None and given.medium == "none" and given.size is not None:
            problems.append(
                Problem(
                    (*at, "fuseCache", "size"),
                    given.size,
                    "sizes a cache that medium: none turns off; remove size or choose medium disk or memory",
                )
            )
        if model.server == "vllm" and streams:
            problems.extend(_streamer_checks(model, at))
    return problems


def _streamer_checks(model: ModelConfig, at: tuple) -> list[Problem]:
    problems = []
    if not model.source.startswith("gs://"):
        problems.append(
            Problem(
                (*at, "vllm", "loadFormat"),
                "runai_streamer",
                f"streams weights from gs:// only, and source is {model.source}; copy the model to a bucket "
                "or use loadFormat: auto",
            )
        )
    if not model.image:
        problems.append(
            Problem(
                (*at, "image"),
                None,
                "is required with vllm.loadFormat: runai_streamer: vllm/vllm-openai:v0.11.0 does not install "
                "runai-model-streamer-gcs (added to the image by vllm PR #26464, after v0.11.0); set an image "
                "with vllm[runai], or use loadFormat: auto (GCS FUSE)",
            )
        )
    return problems
