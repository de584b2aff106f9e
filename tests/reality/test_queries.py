"""The dashboard's and the alerts' PromQL, parsed as Prometheus parses it, against what exists.

Every selector is scoped to the stack's cluster (``cluster`` and ``location``: the resource
labels Managed Prometheus puts on every series) and to the serving namespace; every ``on (...)``
match keeps the cluster apart; every metric is one the cluster exports: a server metric of the
catalog, GKE's DCGM metrics, or a kube-state-metrics series of a package the cluster enables.
"""

from __future__ import annotations

import json

import pytest

from infra import signals
from tests.conftest import STACKS, stack_capture
from tests.reality import promql

# GKE, "Configure collection of kube state metrics" (docs.cloud.google.com/kubernetes-engine/docs/
# how-to/kube-state-metrics, last updated 2026-04-10): the metrics of each package.
KUBE_STATE_PACKAGES = {
    "POD": {
        "kube_pod_container_status_ready",
        "kube_pod_container_status_waiting_reason",
        "kube_pod_status_phase",
        "kube_pod_status_unschedulable",
    },
    "DEPLOYMENT": {
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_available",
        "kube_deployment_status_replicas_updated",
    },
    "HPA": {
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "kube_horizontalpodautoscaler_spec_target_metric",
        "kube_horizontalpodautoscaler_status_condition",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
    },
}
# The DCGM exporter's GPU metrics that Managed Prometheus scrapes (GoogleCloudPlatform/
# prometheus-engine examples/nvidia-dcgm/exporter.yaml, 2ffde4e); GKE's DCGM component installs
# the same exporter. The GKE page listing them could not be read offline.
DCGM_METRICS = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"}


def _server_metrics() -> set[str]:
    names = set(signals.REQUESTS.values()) | set(signals.QUEUE_LATENCY.values())
    names |= {s.metric for s in signals.SIGNALS.values() if s.source == "server" and s.metric}
    for metric, shape in signals.LATENCY.values():
        names.add(f"{metric}_bucket" if shape == "histogram" else metric)
    return names


def _queries(stack: str) -> list[tuple[str, str]]:
    capture = stack_capture(stack)
    out = []
    dashboard = json.loads(capture.one("gcp:monitoring/dashboard:Dashboard").inputs["dashboardJson"])
    for tile in dashboard["mosaicLayout"]["tiles"]:
        for data_set in tile["widget"]["xyChart"]["dataSets"]:
            out.append((tile["widget"]["title"], data_set["timeSeriesQuery"]["prometheusQuery"]))
    for policy in capture.of_type("gcp:monitoring/alertPolicy:AlertPolicy"):
        for condition in policy.inputs["conditions"]:
            out.append((policy.inputs["displayName"], condition["conditionPrometheusQueryLanguage"]["query"]))
    return out


def _stack_scope(stack: str) -> tuple[str, str, set[str]]:
    cluster = stack_capture(stack).one("gcp:container/cluster:Cluster").inputs
    return cluster["name"], cluster["location"], set(cluster["monitoringConfig"]["enableComponents"])


QUERIES = [
    pytest.param(stack, title, query, id=f"{stack}:{title}") for stack in STACKS for title, query in _queries(stack)
]


@pytest.mark.parametrize(("stack", "title", "query"), QUERIES)
def test_every_selector_is_scoped_to_the_stack_cluster_and_namespace(stack, title, query):
    name, location, _ = _stack_scope(stack)
    selectors, _ = promql.parse(query)
    assert selectors
    for sel in selectors:
        assert sel.labels.get("cluster") == ("Equal", name), sel
        assert sel.labels.get("location") == ("Equal", location), sel
        namespace = sel.labels.get("namespace") or sel.labels.get("exported_namespace")
        assert namespace == ("Equal", "serving"), sel


@pytest.mark.parametrize(("stack", "title", "query"), QUERIES)
def test_every_vector_match_keeps_clusters_apart(stack, title, query):
    _, matchings = promql.parse(query)
    for labels in matchings:
        assert {"cluster", "location"} <= set(labels), labels


@pytest.mark.parametrize(("stack", "title", "query"), QUERIES)
def test_every_metric_is_one_the_cluster_exports(stack, title, query):
    _, _, components = _stack_scope(stack)
    exported = set(_server_metrics())
    exported |= DCGM_METRICS if "DCGM" in components else set()
    for package, names in KUBE_STATE_PACKAGES.items():
        if package in components:
            exported |= names
    selectors, _ = promql.parse(query)
    assert {s.metric for s in selectors} <= exported


def test_the_parser_rejects_a_malformed_query():
    with pytest.raises(ValueError):
        promql.parse("sum(rate(x[5m])")
