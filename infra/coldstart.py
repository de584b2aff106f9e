"""Cold start, as pure functions: how a model's GCS FUSE mount caches its weights (mount options,
the sidecar's resources and the annotations that set them), and how long a new replica takes
from "node requested" to "first answer" — the estimate the plan prints and the startup probe's
budget is derived from.

The estimate has four steps, each with its basis (``Step.basis``) printed next to it:

1. **node**: a GPU node is created and joins. No Google figure exists for it, so it is a labelled
   assumption (NODE_SECONDS), the same for pools, node auto-provisioning and Autopilot.
2. **image**: with image streaming the container starts "in a couple of seconds, irrespective of
   image size" (GKE blog, "Introducing container image streaming in GKE", 2021-11-03); the data
   is then read lazily while the server starts, which the server step does not model. Without
   streaming, ``models[].imageGb`` at PULL_MB_S (an assumption: no documented pull rate); no size
   given, the step is not estimated.
3. **weights**: ``models[].weightsGb`` at the rate of the path the weights take:
   - GCS FUSE with the file cache and parallel downloads: the node's bandwidth, at most
     FUSE_READER_MB_S, one reader's share of GCSFuse's own sequential-read benchmark (14,198 MB/s
     for 10 jobs reading 1 GiB files on a c4-standard-192 with 200 Gbps, gcsfuse v3.4.3:
     GoogleCloudPlatform/gcsfuse docs/benchmarks.md, 009e2e38);
   - GCS FUSE without parallel downloads: that rate divided by PARALLEL_SPEEDUP, the "up to nine
     times faster model load time" parallel downloads give (Cloud Storage, "Cloud Storage FUSE file
     caching"); "up to" makes this the optimistic end;
   - vLLM's Run:ai streamer from gs:// and downloads from Hugging Face: no documented throughput;
     the node's bandwidth bounds the streamer, HF_MB_S (an assumption) the Hub.
   The node's bandwidth is Compute Engine's default egress cap, 2 Gbps per vCPU up to 32 Gbps
   ("Network bandwidth", Compute Engine docs; N1 and G2 shapes; the per-shape G2 table of "GPU
   machines and network bandwidth" could not be read offline), used as a bound for ingress, which
   Compute Engine does not cap by machine type. On Autopilot the shape is not known before the
   pod schedules: the pod's CPU request stands in for the vCPUs (a lower bound).
   Writing the cache to the node's boot disk can be slower than the network; the boot disk's
   throughput is not modelled.
4. **server start**: engine start after the weights are read (CUDA context, kernels, vLLM's CUDA
   graph capture): an assumption per server (START_SECONDS), not measured on a GPU.

The startup probe covers steps 3 and 4 (the kubelet starts probing once the container runs):
its budget is BUDGET_FACTOR x their sum, rounded up to a minute and at least MIN_BUDGET_SECONDS,
unless ``startupSeconds`` is set;
without ``weightsGb`` it stays the server's fixed default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infra import catalog
from infra.config import ModelConfig, StackConfig, cache_bytes, fuse_cache, uses_gcs_fuse
from infra.config.values import parse_quantity

MIB = 2**20
GIB = 2**30

# Assumptions (no documented figure; README "Cold start" lists them).
NODE_SECONDS = 300
PULL_MB_S = 100.0
HF_MB_S = 50.0
START_SECONDS = {"torchserve": 30, "triton": 30, "vllm": 90, "predictor": 60}
STREAMED_IMAGE_SECONDS = 5  # "a couple of seconds", rounded up
BUDGET_FACTOR = 2.0
# The least budget a derived one gets: the estimate leaves out what streaming defers (image data
# read lazily while the server starts) and per-model installs (TorchServe's requirements); ours.
MIN_BUDGET_SECONDS = 300

# Documented figures (module docstring).
FUSE_READER_MB_S = 14_198.0 / 10
PARALLEL_SPEEDUP = 9.0
GBPS_PER_VCPU = 2.0
MAX_DEFAULT_GBPS = 32.0

# The GCS FUSE sidecar's defaults (catalog.GCSFUSE_SIDECAR) and the annotations that change them:
# ``gke-gcsfuse/<field>`` for the fields of the webhook's Config (pkg/webhook/config.go, 5fcdc04a).
# A request without a limit (or the reverse) gets the same value; a limit of "0" means none, the
# request then keeping its default (populateResource).
SIDECAR_PREFIX = "gke-gcsfuse/"
# The cache emptyDir the webhook adds unless the pod brings one (pkg/webhook/sidecar_spec.go).
CACHE_VOLUME = "gke-gcsfuse-cache"


@dataclass(frozen=True)
class FuseMount:
    """What a model's GCS FUSE mount adds for its cache: mount options, sidecar annotations, and
    the pod's own cache volume (a Memory emptyDir: name, size limit) or None."""

    options: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    memory_volume: str | None = None


def _mib(n_bytes: float) -> int:
    return math.ceil(n_bytes / MIB)


def sidecar(model: ModelConfig) -> catalog.Allocatable:
    """Requests of the sidecar GKE injects beside a pod mounting its bucket: the webhook's
    defaults, plus the file cache where it lives (ephemeral storage on disk, memory in RAM)."""
    base = catalog.GCSFUSE_SIDECAR
    cache = _mib(cache_bytes(model)) / 1024  # whole MiB, as the annotations and max-size-mb say
    medium = fuse_cache(model).medium
    return catalog.Allocatable(
        cpu=base.cpu,
        memory_gib=base.memory_gib + (cache if medium == "memory" else 0),
        ephemeral_gib=base.ephemeral_gib + (cache if medium == "disk" else 0),
    )


def fuse_mount(model: ModelConfig, *, autopilot: bool) -> FuseMount:
    """Mount options and sidecar settings of the model's cache (nothing without one).

    The options are the file cache (sized), full-object caching on range reads and parallel
    downloads, and — on a read-only mount that Triton does not poll for new versions — metadata
    caches that never expire: the values of gcsfuse's ``aiml-serving`` profile (cfg/params.yaml,
    0095346c) and of accelerated-platforms' tuned vLLM deployment. On Standard the sidecar's CPU
    limit is lifted (``cpu-limit: "0"``, request kept) so the download workers are not throttled;
    Autopilot requires limits, and keeps the default."""
    size = cache_bytes(model)
    if size == 0 or not uses_gcs_fuse(model):
        return FuseMount()
    cache = fuse_cache(model)
    options = [f"file-cache:max-size-mb:{_mib(size)}", "file-cache:cache-file-for-range-read:true"]
    if cache.parallel_downloads:
        options.append("file-cache:enable-parallel-downloads:true")
    polled = model.server == "triton" and model.options.model_control_mode == "poll"
    if not polled:
        options += [
            "metadata-cache:ttl-secs:-1",
            "metadata-cache:stat-cache-max-size-mb:-1",
            "metadata-cache:type-cache-max-size-mb:-1",
        ]
    need = sidecar(model)
    notes: dict[str, str] = {}
    if cache.medium == "disk":
        value = f"{round(need.ephemeral_gib * 1024)}Mi"
        notes.update({"ephemeral-storage-request": value, "ephemeral-storage-limit": value})
    else:
        value = f"{round(need.memory_gib * 1024)}Mi"
        notes.update({"memory-request": value, "memory-limit": value})
    if cache.parallel_downloads and not autopilot:
        notes["cpu-limit"] = "0"
    return FuseMount(
        options=tuple(options),
        annotations=tuple((SIDECAR_PREFIX + k, v) for k, v in sorted(notes.items())),
        memory_volume=f"{_mib(size)}Mi" if cache.medium == "memory" else None,
    )


# Time to first answer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float | None  # None: not estimated (no size given)
    basis: str


@dataclass(frozen=True)
class ColdStart:
    model: str
    steps: tuple[Step, ...]
    explicit: int | None  # models[].startupSeconds

    @property
    def in_pod(self) -> float | None:
        """Seconds the startup probe has to cover: weights and server start."""
        parts = [s.seconds for s in self.steps if s.name in ("weights", "start")]
        return None if None in parts else sum(parts)

    @property
    def budget(self) -> int | None:
        """The derived startup probe budget; None when a size is missing (no weightsGb)."""
        if self.in_pod is None:
            return None
        return max(MIN_BUDGET_SECONDS, 60 * math.ceil(BUDGET_FACTOR * self.in_pod / 60))

    @property
    def total(self) -> float | None:
        return None if any(s.seconds is None for s in self.steps) else sum(s.seconds for s in self.steps)

    @property
    def short(self) -> bool:
        """The configured startup budget is below the estimated load and start."""
        return self.explicit is not None and self.in_pod is not None and self.explicit < self.in_pod


def node_vcpus(cfg: StackConfig, model: ModelConfig) -> tuple[int, str]:
    """vCPUs of the node a new replica lands on, and which node that is."""
    cc = cfg.compute_class(model.compute_class)
    machine = cc.machine_type if cc else next((p.machine_type for p in cfg.pools_for(model)), None)
    shape = catalog.machine_shape(machine) if machine else None
    if shape is not None:
        return shape.vcpus, machine
    cpus = max(1, math.floor(parse_quantity(model.resources.cpu)))
    return cpus, f"the pod's {cpus} vCPUs (Autopilot picks the shape)"


def node_mb_s(vcpus: int) -> float:
    return min(vcpus * GBPS_PER_VCPU, MAX_DEFAULT_GBPS) * 1000 / 8


def _weights(cfg: StackConfig, model: ModelConfig) -> Step:
    if not model.weights_gb:
        return Step("weights", None, "weightsGb not set")
    vcpus, node = node_vcpus(cfg, model)
    bw = node_mb_s(vcpus)
    mb = model.weights_gb * 1000
    if model.source.startswith("hf://"):
        rate, how = min(HF_MB_S, bw), f"from Hugging Face at {HF_MB_S:.0f} MB/s (assumption)"
    elif model.server == "vllm" and model.options.load_format == "runai_streamer":
        rate, how = bw, f"streamed from gs:// at the node's {bw:,.0f} MB/s ({node}; no streamer figure)"
    elif model.server == "torchserve" and model.options.model_store == "image":
        rate = bw
        how = f"in the image (modelStore: image), read at the node's {bw:,.0f} MB/s ({node}; a bound)"
    elif uses_gcs_fuse(model) and cache_bytes(model) and fuse_cache(model).parallel_downloads:
        rate = min(bw, FUSE_READER_MB_S)
        how = f"GCS FUSE, parallel downloads: {rate:,.0f} MB/s (min of {node} {bw:,.0f} MB/s, gcsfuse benchmark)"
    elif uses_gcs_fuse(model):
        rate = min(bw, FUSE_READER_MB_S) / PARALLEL_SPEEDUP
        how = f"GCS FUSE without parallel downloads: {rate:,.0f} MB/s (benchmark / {PARALLEL_SPEEDUP:.0f})"
    else:
        rate = min(bw, FUSE_READER_MB_S) / PARALLEL_SPEEDUP
        how = (
            f"downloaded by {model.server} from gs:// at {rate:,.0f} MB/s (no documented rate: taken as one "
            "GCS FUSE reader without parallel downloads)"
        )
    return Step("weights", mb / rate, f"{model.weights_gb:g} GB {how}")


def _image(model: ModelConfig, streamed: bool | None) -> Step:
    if streamed:
        return Step("image", STREAMED_IMAGE_SECONDS, "streamed (GKE image streaming: a couple of seconds)")
    if model.image_gb:
        return Step(
            "image",
            model.image_gb * 1000 / PULL_MB_S,
            f"{model.image_gb:g} GB pulled at {PULL_MB_S:.0f} MB/s (assumption)",
        )
    return Step("image", None, "pulled, not streamed; set imageGb to estimate")


def estimate(cfg: StackConfig, model: ModelConfig, *, streamed: bool | None) -> ColdStart:
    """The cold start of one new replica; ``streamed``: whether GKE streams its image."""
    steps = (
        Step("node", NODE_SECONDS, "GPU node created and ready (assumption: no documented figure)"),
        _image(model, streamed),
        _weights(cfg, model),
        Step("start", START_SECONDS[model.server], f"{model.server} engine start (assumption)"),
    )
    return ColdStart(model.name, steps, model.startup_seconds)


def startup_seconds(cold: ColdStart, default: int) -> int:
    """The startup probe budget: ``startupSeconds``, else derived from the estimate, else the
    server's fixed default (no weightsGb)."""
    return cold.explicit or cold.budget or default


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = math.ceil(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def summary(cold: ColdStart, budget: int) -> str:
    """One line: total, then each step and the probe budget (the Deployment's annotation)."""
    steps = " + ".join(f"{s.name} {_dur(s.seconds)}" for s in cold.steps)
    why = "startupSeconds" if cold.explicit else ("derived" if cold.budget else "server default")
    total = f"~{_dur(cold.total)}" if cold.total is not None else "not estimated (a size is missing)"
    return f"{total}: {steps}; startup probe {budget}s ({why})"


def lines(cold: ColdStart, budget: int) -> list[str]:
    """The plan's lines for one model: the summary, each step's basis, and a warning when the
    configured budget is below the estimate."""
    out = [f"  {cold.model}: {summary(cold, budget)}"]
    out += [f"    {s.name:<7} {_dur(s.seconds):>7}  {s.basis}" for s in cold.steps]
    if cold.short:
        out.append(
            f"    WARNING: startupSeconds {cold.explicit}s is below the estimated {_dur(cold.in_pod)} to load and "
            "start: the kubelet may restart the pod before it answers; raise it or remove it to derive it"
        )
    return out
