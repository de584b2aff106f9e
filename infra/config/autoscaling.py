"""``models[].autoscaling`` and ``gke-gpu-serving:metrics``: the HPA signals and behaviour of a model,
the custom-metrics adapter switches, and their rules (signals the server exports, GPU metrics need
GKE-managed drivers, capacity for ``replicas.max``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra import signals
from infra.config.base import Problem, _Model, _repeats
from infra.config.pools import pool_capacity

if TYPE_CHECKING:
    from infra.config.models import ModelConfig
    from infra.config.stack import StackConfig


class SignalConfig(_Model):
    signal: Literal[
        "queue-latency",
        "pending-requests",
        "queue-size",
        "batch-size",
        "kv-cache",
        "gateway-queue-size",
        "gateway-kv-cache",
        "gpu-utilization",
        "gpu-memory",
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


def metrics_checks(cfg: StackConfig) -> list[Problem]:
    """One owner of the custom and external metrics APIs."""
    problems: list[Problem] = []
    add = problems.append
    if cfg.metrics.custom_metrics_adapter and cfg.metrics.external_adapter:
        add(
            Problem(
                ("metrics", "customMetricsAdapter"),
                True,
                "metrics.externalAdapter says the cluster already owns custom.metrics.k8s.io; a second "
                "APIService owner breaks every HPA: set customMetricsAdapter false",
            )
        )
    return problems
