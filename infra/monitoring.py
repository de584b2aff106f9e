"""The stack's Cloud Monitoring dashboard and alert policies (the metrics adapter is :mod:`infra.metrics`).

The dashboard has PromQL tiles for each model (request rate, latency, queue signal, available
replicas, GPU utilisation); the alerts read GKE's kube-state-metrics packages. Every query is
scoped to the stack's cluster (:class:`Scope`).
"""

from __future__ import annotations

import json

import pulumi
import pulumi_gcp as gcp

from infra import naming, signals
from infra.apis import ProjectApis
from infra.config import ComponentArgs


class ModelPanel(ComponentArgs):
    """What the dashboard shows for one model."""

    name: str
    server: str
    namespace: str
    queue_signal: str | None = None  # HPA metric of the model's first server signal


class Scope(ComponentArgs):
    """The stack's cluster as Managed Prometheus labels every series: ``cluster`` and ``location``
    (resource labels of ``prometheus_target``). Without them a project's dashboards and alerts
    add up every cluster in it, and ``on (...)`` matching meets duplicate series."""

    cluster: str
    location: str

    def matchers(self, **labels: str) -> str:
        extra = "".join(f',{k}="{v}"' for k, v in labels.items())
        return f'cluster="{self.cluster}",location="{self.location}"{extra}'


def _pod_match(panel: ModelPanel, scope: Scope) -> str:
    return f'{scope.matchers(namespace=panel.namespace)},pod=~"{panel.name}-.*"'


def _tile(title: str, query: str) -> dict:
    # Monitoring API v1: a DataSet holds its query in timeSeriesQuery, which holds the PromQL
    # (Discovery document monitoring.v1, schemas DataSet and TimeSeriesQuery).
    return {
        "title": title,
        "xyChart": {
            "dataSets": [{"timeSeriesQuery": {"prometheusQuery": query}, "plotType": "LINE", "targetAxis": "Y1"}],
            "yAxis": {"scale": "LINEAR"},
        },
    }


def panel_tiles(panel: ModelPanel, scope: Scope) -> list[dict]:
    """Request rate, latency, queue signal, replicas and GPU utilisation of one model (PromQL)."""
    pods = _pod_match(panel, scope)
    tiles = []
    requests = signals.REQUESTS.get(panel.server)
    if requests:
        tiles.append(_tile(f"{panel.name}: requests/s", f'sum(rate({{__name__="{requests}",{pods}}}[5m]))'))
    latency = signals.LATENCY.get(panel.server)
    if latency:
        metric, shape = latency
        if shape == "histogram":
            query = f'histogram_quantile(0.95, sum by (le) (rate({{__name__="{metric}_bucket",{pods}}}[5m])))'
            title = f"{panel.name}: p95 latency (s)"
        else:
            query = f'sum(rate({{__name__="{metric}",{pods}}}[5m])) / sum(rate({{__name__="{requests}",{pods}}}[5m]))'
            title = f"{panel.name}: mean latency (µs)"
        tiles.append(_tile(title, query))
    if panel.queue_signal:
        metric = panel.queue_signal.split("|")[1]
        op = "rate" if panel.queue_signal.endswith("|counter") else None
        inner = f'{{__name__="{metric}",{pods}}}'
        tiles.append(_tile(f"{panel.name}: {metric}", f"sum({op}({inner}[5m]))" if op else f"avg({inner})"))
    # GKE's DEPLOYMENT package (kube_pod_status_ready is in no package GKE exports).
    ready = scope.matchers(namespace=panel.namespace, deployment=panel.name)
    tiles.append(
        _tile(f"{panel.name}: available replicas", f"max(kube_deployment_status_replicas_available{{{ready}}})")
    )
    gpus = f'{scope.matchers(exported_namespace=panel.namespace)},exported_pod=~"{panel.name}-.*"'
    tiles.append(_tile(f"{panel.name}: GPU utilisation (%)", f"avg(DCGM_FI_DEV_GPU_UTIL{{{gpus}}})"))
    return tiles


def dashboard_json(title: str, panels: list[ModelPanel], scope: Scope) -> str:
    """A Cloud Monitoring dashboard (mosaic layout, 2 tiles per row, 6x4 each)."""
    tiles = []
    for i, tile in enumerate(t for p in panels for t in panel_tiles(p, scope)):
        tiles.append({"xPos": (i % 2) * 6, "yPos": (i // 2) * 4, "width": 6, "height": 4, "widget": tile})
    return json.dumps({"displayName": title, "mosaicLayout": {"columns": 12, "tiles": tiles}}, sort_keys=True)


# (name, display, PromQL, duration): the alert policies, on GKE's kube-state-metrics packages
# (HPA: kube_horizontalpodautoscaler_status_current_replicas, _spec_max_replicas; POD:
# kube_pod_status_unschedulable; GKE, "Configure collection of kube state metrics").
def alert_rules(namespace: str, scope: Scope) -> list[tuple[str, str, str, str]]:
    sel = scope.matchers(namespace=namespace)
    return [
        (
            "hpa-at-max",
            "HPA at max replicas for 15 minutes",
            f"kube_horizontalpodautoscaler_status_current_replicas{{{sel}}} "
            f">= on (cluster, location, namespace, horizontalpodautoscaler) "
            f"kube_horizontalpodautoscaler_spec_max_replicas{{{sel}}}",
            "900s",
        ),
        (
            "gpu-pods-unschedulable",
            "GPU pods unschedulable",
            f"sum by (pod) (kube_pod_status_unschedulable{{{sel}}}) > 0",
            "600s",
        ),
    ]


class MonitoringArgs(ComponentArgs):
    project: str
    prefix: str
    environment: str
    namespace: str
    scope: Scope
    panels: tuple[ModelPanel, ...]
    dashboard: bool = True
    alerts: bool = True
    notification_channels: tuple[str, ...] = ()


class Monitoring(pulumi.ComponentResource):
    """One Cloud Monitoring dashboard per stack and its alert policies."""

    def __init__(
        self, name: str, args: MonitoringArgs, *, apis: ProjectApis, opts: pulumi.ResourceOptions | None = None
    ):
        # The type keeps the "metrics" module of infra/metrics.py, where this component was first:
        # the type is part of every URN below it, so a new one would replace them all.
        super().__init__("gke-gpu-serving:metrics:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.dashboard:
            gcp.monitoring.Dashboard(
                f"{name}-dashboard",
                project=args.project,
                dashboard_json=dashboard_json(f"{args.prefix} GPU serving", list(args.panels), args.scope),
                opts=apis.opts(gcp.monitoring.Dashboard, child),
            )
        if args.alerts:
            for key, display, query, duration in alert_rules(args.namespace, args.scope):
                gcp.monitoring.AlertPolicy(
                    f"{name}-{key}",
                    project=args.project,
                    display_name=f"{args.prefix}: {display}",
                    combiner="OR",
                    conditions=[
                        gcp.monitoring.AlertPolicyConditionArgs(
                            display_name=display,
                            condition_prometheus_query_language=gcp.monitoring.AlertPolicyConditionConditionPrometheusQueryLanguageArgs(
                                query=query,
                                duration=duration,
                                evaluation_interval="60s",
                                # The API checks that every metric the PromQL names exists; on a
                                # new project no cluster has exported the kube-state-metrics
                                # series yet, and the policy is rejected (Monitoring v3
                                # PrometheusQueryLanguageCondition.disableMetricValidation).
                                disable_metric_validation=True,
                            ),
                        )
                    ],
                    notification_channels=list(args.notification_channels),
                    user_labels=naming.gcp_labels(args.environment, f"alert-{key}"),
                    opts=apis.opts(gcp.monitoring.AlertPolicy, child),
                )
        self.register_outputs({})
