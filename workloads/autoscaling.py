"""Collection and autoscaling per model: a Managed Prometheus ``PodMonitoring`` scraping the
server's metrics port (by the container port's *name*), a ``ClusterPodMonitoring`` re-exporting
GKE's DCGM GPU metrics under the lower-case names the adapter can serve, and one
``autoscaling/v2`` HPA per model with a ``behavior`` block, from the metric catalog in
:mod:`infra.signals`. The spec builders are pure; :func:`build` only wires resources.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra import naming, signals
from infra.config import Behavior, ModelConfig
from workloads.context import Context
from workloads.pod import HttpCheck

PODMONITORING_API = "monitoring.googleapis.com/v1"
SCRAPE_INTERVAL = "30s"
# GKE's managed DCGM exporter (GKE >= 1.30.1 with the DCGM monitoring component).
DCGM_NAMESPACE = "gke-managed-system"
DCGM_SELECTOR = {"app.kubernetes.io/name": "gke-managed-dcgm-exporter"}
DCGM_PORT = "metrics"
DCGM_MONITOR = "dcgm-lowercase"


def pod_monitoring_spec(match: dict[str, str], metrics: HttpCheck) -> dict:
    return {
        "selector": {"matchLabels": dict(match)},
        "endpoints": [{"port": metrics.port, "path": metrics.path, "interval": SCRAPE_INTERVAL}],
    }


def dcgm_relabeling(models: list[str]) -> list[dict]:
    """Keep the two DCGM metrics, rename them lower case and tag each series with its model.

    ``exported_pod`` is the GPU-using pod (``<model>-<replicaset>-<id>``); the model label lets
    an External metric select one model's GPUs.
    """
    rules: list[dict] = [
        {"sourceLabels": ["__name__"], "regex": "|".join(signals.DCGM_RENAMES), "action": "keep"},
    ]
    rules += [
        {
            "sourceLabels": ["__name__"],
            "regex": upper,
            "targetLabel": "__name__",
            "replacement": lower,
            "action": "replace",
        }
        for upper, lower in signals.DCGM_RENAMES.items()
    ]
    rules.append(
        {
            "sourceLabels": ["exported_pod"],
            "regex": f"({'|'.join(sorted(models))})-[a-z0-9]+-[a-z0-9]+",
            "targetLabel": signals.MODEL_LABEL,
            "replacement": "$1",
            "action": "replace",
        }
    )
    return rules


def dcgm_monitoring_spec(models: list[str]) -> dict:
    return {
        "selector": {"matchLabels": dict(DCGM_SELECTOR)},
        "endpoints": [{"port": DCGM_PORT, "interval": SCRAPE_INTERVAL, "metricRelabeling": dcgm_relabeling(models)}],
    }


def _quantity(value: float) -> str:
    """A Kubernetes quantity for a target: integers as is, fractions in milli-units."""
    if float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"


def external_selector(model: str, namespace: str, cluster: str, location: str) -> dict[str, str]:
    """The labels an External metric selects one model's GPUs of this cluster by.

    The adapter builds an external metric's filter from the metric name and this selector only
    (k8s-stackdriver custom-metrics-stackdriver-adapter pkg/adapter/translator/query_builder.go:
    unlike Pods metrics, no cluster, location or namespace is added), so without the resource
    labels two stacks in one project would average each other's GPUs.
    """
    return {
        "resource.labels.cluster": cluster,
        "resource.labels.location": location,
        f"metric.labels.{signals.MODEL_LABEL}": model,
        "metric.labels.exported_namespace": namespace,
    }


def gateway_selector(pool: str, namespace: str, cluster: str, location: str) -> dict[str, str]:
    """The labels an External metric selects one InferencePool's averages by: the endpoint picker's
    ``name`` label (the pool) and, as for DCGM, the cluster and location the adapter does not add;
    the series' monitored resource is the picker's pod in the stack's namespace."""
    return {
        "resource.labels.cluster": cluster,
        "resource.labels.location": location,
        "resource.labels.namespace": namespace,
        f"metric.labels.{signals.POOL_LABEL}": pool,
    }


def hpa_metrics(model: ModelConfig, namespace: str, cluster: str, location: str) -> list[dict]:
    out = []
    for sig in model.autoscaling.signals:
        entry = signals.resolve(sig.signal, model.server)
        value = _quantity(sig.target or float(entry.default_target))
        target = {"type": entry.target_type, "averageValue" if entry.target_type == "AverageValue" else "value": value}
        if entry.hpa_type == "Pods":
            out.append({"type": "Pods", "pods": {"metric": {"name": entry.hpa_metric}, "target": target}})
        else:
            pick = gateway_selector if entry.source == "gateway" else external_selector
            selector = {"matchLabels": pick(model.name, namespace, cluster, location)}
            out.append(
                {
                    "type": "External",
                    "external": {"metric": {"name": entry.hpa_metric, "selector": selector}, "target": target},
                }
            )
    return out


def behavior(b: Behavior) -> dict:
    """Fast scale-up (stabilised ``scaleUpStabilizationSeconds``, N pods a minute or doubling),
    slow scale-down (stabilised, N pods per period): GPU pods take minutes to come back."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": b.scale_up_stabilization_seconds,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": b.scale_up_pods_per_minute, "periodSeconds": 60},
                {"type": "Percent", "value": 100, "periodSeconds": 60},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": b.scale_down_stabilization_seconds,
            "selectPolicy": "Min",
            "policies": [
                {"type": "Pods", "value": b.scale_down_pods_per_period, "periodSeconds": b.scale_down_period_seconds}
            ],
        },
    }


def hpa_spec(model: ModelConfig, namespace: str, deployment: str, cluster: str, location: str) -> dict:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicas": model.replicas.min,
        "maxReplicas": model.replicas.max,
        "metrics": hpa_metrics(model, namespace, cluster, location),
        "behavior": behavior(model.autoscaling.behavior),
    }


def pod_monitoring(
    name: str, namespace: str, environment: str, match: dict[str, str], metrics: HttpCheck, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        f"podmonitoring-{name}",
        api_version=PODMONITORING_API,
        kind="PodMonitoring",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=naming.k8s_labels(environment, "pod-monitoring", name)
        ),
        spec=pod_monitoring_spec(match, metrics),
        opts=opts,
    )


def dcgm_monitoring(
    models: list[str], environment: str, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        "clusterpodmonitoring-dcgm",
        api_version=PODMONITORING_API,
        kind="ClusterPodMonitoring",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=DCGM_MONITOR, labels=naming.k8s_labels(environment, "pod-monitoring", DCGM_MONITOR)
        ),
        spec=dcgm_monitoring_spec(models),
        opts=opts,
    )


def hpa(
    model: ModelConfig,
    namespace: str,
    environment: str,
    deployment: str,
    cluster: tuple[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
    """``cluster``: (name, location) of the stack's cluster, which External metrics select by."""
    return k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"hpa-{model.name}",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=model.name, namespace=namespace, labels=naming.k8s_labels(environment, "autoscaler", model.name)
        ),
        spec=hpa_spec(model, namespace, deployment, *cluster),
        opts=opts,
    )


def uses_dcgm(model: ModelConfig) -> bool:
    return any(signals.SIGNALS[s.signal].source == "dcgm" for s in model.autoscaling.signals)


def monitors_and_hpas(ctx: Context, servers: dict[str, pulumi.Resource]) -> None:
    """Each server's PodMonitoring, each autoscaled model's HPA (after its server), and the one
    ClusterPodMonitoring that relabels DCGM's series for the models that scale on GPU signals."""
    cfg, ns, env = ctx.cfg, ctx.namespace, ctx.cfg.environment
    for model in cfg.models:
        server = servers[model.name]
        if server.spec.metrics is not None:
            pod_monitoring(model.name, ns, env, server.selector, server.spec.metrics, ctx.base)
        if model.autoscaling is not None:
            hpa(
                model,
                ns,
                env,
                model.name,
                (cfg.cluster_name, cfg.cluster.location),
                pulumi.ResourceOptions.merge(ctx.base, pulumi.ResourceOptions(depends_on=[server])),
            )
    gpu_watched = [m.name for m in cfg.models if m.autoscaling and uses_dcgm(m)]
    if gpu_watched:
        dcgm_monitoring(gpu_watched, env, ctx.cluster_opts)
