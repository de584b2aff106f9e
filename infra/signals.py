"""The metric catalog: which autoscaling signals each model server exports, under which name the
custom-metrics Stackdriver adapter serves them, and how an HPA uses them (DESIGN.md section 5).

Server metrics are scraped by Managed Prometheus (a ``PodMonitoring`` per workload) and reach
the HPA as **Pods** metrics named ``prometheus.googleapis.com|<metric>|<kind>``; for a counter
the adapter serves its rate. GPU metrics come from GKE's managed DCGM exporter, whose metric
names are upper case (``DCGM_FI_DEV_GPU_UTIL``); the adapter looks names up in lower case and
never finds those (GoogleCloudPlatform/k8s-stackdriver#413), so the stack re-exports them in
lower case with a ``ClusterPodMonitoring`` and the HPA reads them as **External** metrics
selected by the serving model's label. Pure data, no Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMETHEUS = "prometheus.googleapis.com"
ALL_SERVERS = ("torchserve", "triton", "vllm", "predictor")


@dataclass(frozen=True)
class Signal:
    name: str  # config key: models[].autoscaling.signals[].signal
    servers: tuple[str, ...]
    metric: str  # Prometheus metric name as scraped (after the lower-casing re-export for DCGM)
    kind: str  # the Cloud Monitoring suffix Managed Prometheus writes: counter | gauge | unknown
    source: str  # server | dcgm | gateway (the Inference Gateway's endpoint picker)
    default_target: str
    unit: str

    @property
    def hpa_metric(self) -> str:
        """The name the HPA asks the adapter for."""
        return f"{PROMETHEUS}|{self.metric}|{self.kind}"

    @property
    def hpa_type(self) -> str:
        return "Pods" if self.source == "server" else "External"

    @property
    def target_type(self) -> str:
        """``Value`` for a pool average (one series per pool: the HPA scales the ready pods by
        value / target), ``AverageValue`` for per-pod series (the HPA divides their sum by the pods).
        autoscaling/v2 MetricTarget: "value is the target value of the metric"; "averageValue is the
        target value of the average of the metric across all relevant pods" (checked against the
        Kubernetes schema in tests/test_signals_catalog.py)."""
        return "Value" if self.source == "gateway" else "AverageValue"


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        # Queue latency, a counter of microseconds spent queued (TorchServe 0.12.0 docs/metrics.md:
        # ts_queue_latency_microseconds "Total queue latency in Microseconds", counter; Triton
        # docs/user_guide/metrics.md: nv_inference_queue_duration_us "Cumulative time requests spend
        # waiting in the scheduling queue", counter). The adapter aligns a CUMULATIVE metric with
        # ALIGN_RATE (k8s-stackdriver query_builder.go), so the target is microseconds queued per
        # second per pod; 30000 is kubernetes-engine-samples ai-ml/t5-model-serving/kubernetes/hpa.yaml.
        Signal("queue-latency", ("torchserve", "triton"), "", "counter", "server", "30000", "µs queued per second"),
        # Requests waiting in Triton's queue, a gauge (core src/metrics.cc BuildGauge
        # nv_inference_pending_request_count). No upstream sample target; 5 as vLLM's queue below.
        Signal(
            "pending-requests", ("triton",), "nv_inference_pending_request_count", "gauge", "server", "5", "requests"
        ),
        # Requests waiting in vLLM's scheduler, a gauge (vllm/v1/metrics/loggers.py). GKE's LLM
        # autoscaling best practices: queue size "to maximize throughput ... within a target latency";
        # kubernetes-engine-samples ai-ml/llm-multihost-gpus/vllm-hpa.yaml targets averageValue 5.
        Signal("queue-size", ("vllm",), "vllm:num_requests_waiting", "gauge", "server", "5", "requests"),
        # Batch size is "the number of requests undergoing inference" (GKE, Best practices for
        # autoscaling LLM inference workloads with GPUs: cloud.google.com/kubernetes-engine/docs/
        # best-practices/machine-learning/inference/autoscaling). vLLM 0.11 exports it as a gauge
        # (vllm/v1/metrics/loggers.py).
        Signal("batch-size", ("vllm",), "vllm:num_requests_running", "gauge", "server", "8", "requests"),
        # KV-cache usage, 0..1: vllm:kv_cache_usage_perc since vLLM 0.9.2; the older
        # vllm:gpu_cache_usage_perc is hidden in 0.11 unless --show-hidden-metrics-for-version.
        Signal("kv-cache", ("vllm",), "vllm:kv_cache_usage_perc", "gauge", "server", "0.8", "KV-cache fraction"),
        # Written "unknown", not "gauge": the re-export renames __name__ with metricRelabeling,
        # Prometheus looks metadata up under the scraped name (prometheus/prometheus#8893), and
        # Managed Prometheus writes a series without metadata as untyped, i.e. twice, as
        # prometheus.googleapis.com/<name>/unknown (GAUGE) and /unknown:counter (CUMULATIVE)
        # (GoogleCloudPlatform/prometheus google/export/series_cache.go; prometheus-engine PR #132;
        # examples/hpa/README.md: "untyped metrics might have the unknown or unknown:counter
        # suffix"). The GAUGE one is read as is (ALIGN_NEXT_OLDER in the adapter).
        # DCGM_FI_DEV_GPU_UTIL is a 0..100 gauge of the GPU's busy time, DCGM_FI_DEV_FB_USED a gauge of
        # framebuffer MiB in use (prometheus-engine examples/nvidia-dcgm/exporter.yaml). No upstream
        # sample target: 80 % and 12000 MiB are this project's defaults, to set per model.
        # The endpoint picker's pool averages (kubernetes-sigs/gateway-api-inference-extension v1.5.0,
        # df9f8909, pkg/epp/metrics/metrics.go: GaugeVec inference_pool_average_queue_size and
        # inference_pool_average_kv_cache_utilization, one label `name`, the InferencePool's name;
        # pkg/epp/backend/metrics/logger.go refreshPrometheusMetrics sets them every 5 s to the mean of
        # vllm:num_requests_waiting / vllm:kv_cache_usage_perc over the pool's pods with fresh metrics,
        # pkg/epp/server/options.go defaults). GKE's Inference Gateway autoscaling reads them as External
        # metrics prometheus.googleapis.com|<name>|gauge selected by metric.labels.name (gbrayut/
        # cloud-examples gke-ai-infgw/vllm-infgw-hpas.yaml, 0aa85285). Targets: 5 as queue-size above,
        # 0.8 as kv-cache; tune per model.
        Signal(
            "gateway-queue-size",
            ("vllm",),
            "inference_pool_average_queue_size",
            "gauge",
            "gateway",
            "5",
            "requests waiting per pod (pool average)",
        ),
        Signal(
            "gateway-kv-cache",
            ("vllm",),
            "inference_pool_average_kv_cache_utilization",
            "gauge",
            "gateway",
            "0.8",
            "KV-cache fraction (pool average)",
        ),
        Signal("gpu-utilization", ALL_SERVERS, "dcgm_fi_dev_gpu_util", "unknown", "dcgm", "80", "percent"),
        Signal("gpu-memory", ALL_SERVERS, "dcgm_fi_dev_fb_used", "unknown", "dcgm", "12000", "MiB"),
    )
}

# Whether a server's series exist before its first inference (seen with the real servers in
# tests/integration). TorchServe creates its ts_* series on the first request: until then an HPA
# reading only them reports the metric missing (FailedGetPodsMetric) and holds its replica count,
# which after a deploy is replicas.min (the Deployment starts there). README "Autoscaling".
EXPORTED_WHEN_IDLE = {"torchserve": False, "triton": True, "vllm": True}

# Per-server metric behind the shared "queue-latency" name.
QUEUE_LATENCY = {"torchserve": "ts_queue_latency_microseconds", "triton": "nv_inference_queue_duration_us"}

# Upper-case DCGM names GKE exports -> the lower-case names the adapter can serve.
DCGM_RENAMES = {"DCGM_FI_DEV_GPU_UTIL": "dcgm_fi_dev_gpu_util", "DCGM_FI_DEV_FB_USED": "dcgm_fi_dev_fb_used"}
# The label the re-export adds so an External metric can select one model's GPUs.
MODEL_LABEL = "serving_model"
# The label the endpoint picker puts on its pool metrics: the InferencePool's name (poolLabels).
POOL_LABEL = "name"

# Requests and latency per server, for the dashboard (what each server exports on /metrics).
REQUESTS = {
    "torchserve": "ts_inference_requests_total",
    "triton": "nv_inference_request_success",
    "vllm": "vllm:request_success_total",
}
LATENCY = {
    "torchserve": ("ts_inference_latency_microseconds", "counter-per-request"),
    "triton": ("nv_inference_request_duration_us", "counter-per-request"),
    "vllm": ("vllm:e2e_request_latency_seconds", "histogram"),
}


# States a serving pod passes through, and in which of them each signal has a value. A series
# exists only once its exporter runs: the servers start serving /metrics with the model loaded
# (TorchServe: ts_* only after the first inference, EXPORTED_WHEN_IDLE); GKE's DCGM exporter
# reports a GPU's series whenever a pod holds it, loading included. The endpoint picker sets its
# pool averages only while some pod of the pool reports metrics (refreshPrometheusMetrics returns
# before recording when no pod has fresh metrics), i.e. once a vLLM pod has loaded its model.
STATES = ("loading", "idle", "serving")


def present_in(signal: Signal, server: str) -> tuple[str, ...]:
    """The states in which ``signal`` has a value for a pod of ``server``."""
    if signal.source == "dcgm":
        return STATES
    if signal.source == "gateway":
        return ("idle", "serving")
    return ("idle", "serving") if EXPORTED_WHEN_IDLE.get(server, True) else ("serving",)


def held_states(signals: list[Signal], server: str) -> tuple[str, ...]:
    """States in which some but not all of an HPA's signals have a value. Kubernetes skips a scale
    down while any metric is missing ("If any of these metrics cannot be converted into a desired
    replica count ... and a scale down is suggested by the metrics which can be fetched, scaling is
    skipped": Kubernetes, Horizontal Pod Autoscaling, multiple metrics), so the HPA holds its
    replicas in these states."""
    present = [set(present_in(s, server)) for s in signals]
    return tuple(st for st in STATES if any(st in p for p in present) and not all(st in p for p in present))


def resolve(signal: str, server: str) -> Signal:
    """The catalog entry for ``signal`` on ``server`` (queue latency names differ per server)."""
    s = SIGNALS[signal]
    if signal == "queue-latency":
        return Signal(s.name, s.servers, QUEUE_LATENCY[server], s.kind, s.source, s.default_target, s.unit)
    return s


def signals_for(server: str) -> list[str]:
    return [name for name, s in SIGNALS.items() if server in s.servers]
