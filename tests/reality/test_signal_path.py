"""Every HPA metric of every example stack, followed hop by hop to the series behind it.

1. the exporter exports the series, with a Prometheus type (the table below, each with its
   source; the integration tests check the same against the running servers);
2. a monitor scrapes it: a ``PodMonitoring`` in the HPA's namespace selecting the target
   Deployment's pods on a port name that container has, or the ``ClusterPodMonitoring`` of
   GKE's DCGM exporter;
3. its ``metricRelabeling`` is applied as Prometheus applies it (anchored regex, ``keep``,
   ``replace``), and a series renamed on ``__name__`` loses its metadata;
4. Managed Prometheus writes ``prometheus.googleapis.com/<name>/<type>``, or ``/unknown`` for a
   series without metadata (GoogleCloudPlatform/prometheus google/export/series_cache.go;
   prometheus-engine PR #132);
5. the adapter reads the HPA's ``prometheus.googleapis.com|<name>|<kind>`` as that type (``|`` ->
   ``/``: k8s-stackdriver provider.go) and scopes it: Pods metrics to the cluster, location and
   namespace by itself, External metrics only by the HPA's selector (query_builder.go).

Each failure names the hop that breaks.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import STACKS, stack_capture
from tooling import signal_paths
from tooling.plan_text import kubernetes_manifest

# What each exporter exports: series name -> Prometheus TYPE.
EXPORTED = {
    # TorchServe 0.12.0 docs/metrics.md (prometheus mode): all three are counters.
    "torchserve": {
        "ts_queue_latency_microseconds": "counter",
        "ts_inference_requests_total": "counter",
        "ts_inference_latency_microseconds": "counter",
    },
    # Triton docs/user_guide/metrics.md (2.59): duration and count metrics are counters; the pending
    # request count is a gauge (core src/metrics.cc BuildGauge nv_inference_pending_request_count).
    "triton": {
        "nv_inference_queue_duration_us": "counter",
        "nv_inference_request_duration_us": "counter",
        "nv_inference_request_success": "counter",
        "nv_inference_pending_request_count": "gauge",
    },
    # vLLM 0.11 vllm/v1/metrics/loggers.py: gauges for the scheduler state and KV cache, a histogram
    # for end-to-end latency; vllm:gpu_cache_usage_perc is hidden in 0.11 (renamed in 0.9.2).
    "vllm": {
        "vllm:num_requests_waiting": "gauge",
        "vllm:num_requests_running": "gauge",
        "vllm:kv_cache_usage_perc": "gauge",
        "vllm:e2e_request_latency_seconds": "histogram",
        "vllm:request_success_total": "counter",
    },
    # The Inference Gateway's endpoint picker: pool averages and ready pods are GaugeVecs labelled
    # `name` (kubernetes-sigs/gateway-api-inference-extension v1.5.0, df9f8909, pkg/epp/metrics/metrics.go;
    # site-src/guides/metrics-and-observability.md lists the same). Go code: not run here.
    "epp": {
        "inference_pool_average_queue_size": "gauge",
        "inference_pool_average_kv_cache_utilization": "gauge",
        "inference_pool_ready_pods": "gauge",
    },
    # The DCGM exporter's GPU fields are gauges (prometheus-engine examples/nvidia-dcgm/exporter.yaml).
    "dcgm": {"DCGM_FI_DEV_GPU_UTIL": "gauge", "DCGM_FI_DEV_FB_USED": "gauge", "DCGM_FI_DEV_FB_FREE": "gauge"},
}
# Suffixes Managed Prometheus writes (prometheus-engine examples/hpa/README.md: "usually one of
# gauge, counter, summary, or histogram, although untyped metrics might have the unknown or
# unknown:counter suffix").
WRITTEN_KINDS = {"gauge", "counter", "summary", "histogram", "unknown", "unknown:counter"}
# Labels a DCGM series carries once scraped: the exporter's pod/namespace move to exported_*
# because Managed Prometheus does not honour target labels (no honor_labels in its operator API).
DCGM_SAMPLE_LABELS = {"exported_namespace": "serving", "gpu": "0", "modelName": "NVIDIA L4"}


def relabel(rules: list[dict], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus relabelling of one series (None: dropped). Regexes are anchored; the default
    separator is ``;``, the default regex ``(.*)`` and the default replacement ``$1``."""
    out = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(out.get(label, "") for label in rule.get("sourceLabels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            replacement = re.sub(r"\$(\d+)", r"\\\1", rule.get("replacement", "$1"))
            out[rule["targetLabel"]] = match.expand(replacement)
    return out


def _manifests(stack: str) -> list[dict]:
    return [kubernetes_manifest(r) for r in stack_capture(stack).kubernetes_objects()]


def _find(manifests: list[dict], kind: str, namespace: str | None, name: str) -> dict | None:
    for m in manifests:
        meta = m["metadata"]
        if m["kind"] == kind and meta["name"] == name and meta.get("namespace") == namespace:
            return m
    return None


def test_some_example_hpa_scales_on_a_gateway_signal():
    names = {
        (m.get("external") or {}).get("metric", {}).get("name")
        for stack in STACKS
        for h in _manifests(stack)
        if h["kind"] == "HorizontalPodAutoscaler"
        for m in h["spec"]["metrics"]
    }
    assert "prometheus.googleapis.com|inference_pool_average_queue_size|gauge" in names


def _cluster(stack: str) -> tuple[str, str]:
    c = stack_capture(stack).one("gcp:container/cluster:Cluster").inputs
    return c["name"], c["location"]


def _written(rules: list[dict], exported: dict[str, str], extra: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """Written series name -> (kind, labels) for everything ``exported`` after relabelling."""
    out = {}
    for name, prom_type in exported.items():
        labels = relabel(rules, {"__name__": name, **extra})
        if labels is None:
            continue
        kind = "unknown" if labels["__name__"] != name else prom_type
        out[labels["__name__"]] = (kind, labels)
    return out


def _hpa_metrics():
    for stack in STACKS:
        for m in _manifests(stack):
            if m["kind"] == "HorizontalPodAutoscaler":
                for i, metric in enumerate(m["spec"]["metrics"]):
                    yield pytest.param(stack, m, metric, id=f"{stack}:{m['metadata']['name']}:{i}")


@pytest.mark.parametrize(("stack", "hpa", "metric"), list(_hpa_metrics()))
def test_every_hop_of_the_signal_agrees(stack, hpa, metric):
    manifests = _manifests(stack)
    ns = hpa["metadata"]["namespace"]
    target = hpa["spec"]["scaleTargetRef"]
    deployment = _find(manifests, target["kind"], ns, target["name"])
    assert deployment is not None, f"hop 0: HPA targets {target} which the stack does not create"
    pod = deployment["spec"]["template"]
    server = pod["metadata"]["labels"].get("gke-gpu-serving/server")

    body = metric.get("pods") or metric["external"]
    name = body["metric"]["name"]
    prefix, written_name, kind = name.split("|")
    assert prefix == "prometheus.googleapis.com", f"hop 5: {name} is not a Managed Prometheus metric"
    assert kind in WRITTEN_KINDS, f"hop 4: Managed Prometheus writes no {kind!r} suffix"

    if metric["type"] == "Pods":
        monitors = [
            m
            for m in manifests
            if m["kind"] == "PodMonitoring"
            and m["metadata"].get("namespace") == ns
            and m["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(monitors) == 1, f"hop 2: {len(monitors)} PodMonitorings select {target['name']}'s pods"
        (endpoint,) = monitors[0]["spec"]["endpoints"]
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert endpoint["port"] in ports, f"hop 2: port {endpoint['port']!r} is not a container port name ({ports})"
        written = _written(endpoint.get("metricRelabeling") or [], EXPORTED[server], {})
        assert written_name in written, f"hop 1/3: {server} exports no series written as {written_name!r}"
        assert written[written_name][0] == kind, (
            f"hop 4: {written_name} is written as {written[written_name][0]}, the HPA asks for {kind}"
        )
        selector = (body["metric"].get("selector") or {}).get("matchLabels") or {}
        assert not [k for k in selector if k.startswith("resource.labels.")], (
            "hop 5: Pods metrics select metric labels only"
        )
    elif "metric.labels.name" in body["metric"]["selector"]["matchLabels"]:
        _gateway_hops(stack, manifests, ns, pod, body["metric"]["selector"]["matchLabels"], written_name, kind)
    else:
        cluster, location = _cluster(stack)
        selector = body["metric"]["selector"]["matchLabels"]
        assert selector.get("resource.labels.cluster") == cluster, "hop 5: External metric not scoped to the cluster"
        assert selector.get("resource.labels.location") == location, "hop 5: External metric not scoped to the location"
        monitors = [m for m in manifests if m["kind"] == "ClusterPodMonitoring"]
        assert monitors, "hop 2: no ClusterPodMonitoring re-exports the DCGM series"
        sample_pod = f"{target['name']}-5d9f8b7c6d-x2x4q"  # a pod of the Deployment's ReplicaSet
        found = {}
        for monitor in monitors:
            (endpoint,) = monitor["spec"]["endpoints"]
            found |= _written(
                endpoint.get("metricRelabeling") or [],
                EXPORTED["dcgm"],
                {**DCGM_SAMPLE_LABELS, "exported_pod": sample_pod},
            )
        assert written_name in found, f"hop 1/3: no DCGM series is written as {written_name!r}"
        written_kind, labels = found[written_name]
        assert written_kind == kind, f"hop 4: {written_name} is written as {written_kind}, the HPA asks for {kind}"
        for key, value in selector.items():
            if key.startswith("metric.labels."):
                label = key.removeprefix("metric.labels.")
                assert labels.get(label) == value, (
                    f"hop 3/5: series carry {label}={labels.get(label)!r}, selector wants {value!r}"
                )


def _rules_allow(rules: list[dict], *, group=None, resource=None, verb, name=None, url=None) -> bool:
    for r in rules:
        if verb not in r.get("verbs", []):
            continue
        if url is not None and url in r.get("nonResourceURLs", []):
            return True
        named = name is None or not r.get("resourceNames") or name in r["resourceNames"]
        if resource is not None and group in r.get("apiGroups", []) and resource in r.get("resources", []) and named:
            return True
    return False


def _granted(manifests: list[dict], ns: str, sa_ns: str, sa: str, **want) -> bool:
    """Whether ServiceAccount ``sa_ns/sa`` holds, through a (Cluster)RoleBinding the stack creates, a
    rule allowing ``want`` (RBAC as the API server evaluates it: a binding names its role and subjects)."""
    for b in manifests:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if b["kind"] == "RoleBinding" and b["metadata"].get("namespace") != ns:
            continue
        if not any(s["kind"] == "ServiceAccount" and (s["namespace"], s["name"]) == (sa_ns, sa) for s in b["subjects"]):
            continue
        ref = b["roleRef"]
        role = _find(manifests, ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])
        if role is not None and _rules_allow(role["rules"], **want):
            return True
    return False


def _gateway_hops(stack, manifests, ns, target_pod, selector, written_name, kind):
    """An External metric of the Inference Gateway: the pool behind the HPA's Deployment, its
    endpoint picker exporting the series under the pool's name, the authenticated scrape, the scope."""
    cluster, location = _cluster(stack)
    pool_name = selector["metric.labels.name"]
    assert selector.get("resource.labels.cluster") == cluster, "hop 5: External metric not scoped to the cluster"
    assert selector.get("resource.labels.location") == location, "hop 5: External metric not scoped to the location"
    assert selector.get("resource.labels.namespace") == ns, "hop 5: the picker's series are not scoped to its namespace"
    pool = _find(manifests, "InferencePool", ns, pool_name)
    assert pool is not None, f"hop 1: no InferencePool {ns}/{pool_name} whose picker would export the series"
    labels = target_pod["metadata"]["labels"]
    assert pool["spec"]["selector"]["matchLabels"].items() <= labels.items(), (
        "hop 1: the pool does not average over the HPA target's pods"
    )
    ports = {p["containerPort"] for c in target_pod["spec"]["containers"] for p in c.get("ports", [])}
    assert {p["number"] for p in pool["spec"]["targetPorts"]} <= ports, "hop 1: the pool targets no container port"
    ref = pool["spec"]["endpointPickerRef"]
    service = _find(manifests, "Service", ns, ref["name"])
    assert service is not None and ref["port"]["number"] in {p["port"] for p in service["spec"]["ports"]}, (
        "hop 1: the pool's endpointPickerRef is not a Service port"
    )
    (picker,) = [
        m
        for m in manifests
        if m["kind"] == "Deployment"
        and m["metadata"].get("namespace") == ns
        and service["spec"]["selector"].items() <= m["spec"]["template"]["metadata"]["labels"].items()
    ]
    pod = picker["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    args = container["args"]
    # The series' `name` label is the pool name the picker is started with (metrics.go poolLabels).
    assert args[args.index("--pool-name") + 1] == pool_name, "hop 1: the picker labels its series with another pool"
    assert args[args.index("--pool-namespace") + 1] == ns, "hop 1: the picker watches another namespace"
    assert written_name in EXPORTED["epp"], f"hop 1: the endpoint picker exports no {written_name!r}"
    monitors = [
        m
        for m in manifests
        if m["kind"] == "PodMonitoring"
        and m["metadata"].get("namespace") == ns
        and m["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    ]
    assert len(monitors) == 1, f"hop 2: {len(monitors)} PodMonitorings select the picker's pods"
    (endpoint,) = monitors[0]["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}, "hop 2: the monitor's port is not the picker's"
    written = _written(endpoint.get("metricRelabeling") or [], EXPORTED["epp"], {})
    assert written[written_name][0] == kind, f"hop 4: {written_name} is written as {written[written_name][0]}"
    # The picker's /metrics authenticates and authorizes every scrape (MetricsEndpointAuth defaults to
    # true, pkg/epp/server/options.go; filters.WithAuthenticationAndAuthorization: a TokenReview and a
    # SubjectAccessReview per request), unless started with --metrics-endpoint-auth=false.
    if "--metrics-endpoint-auth=false" in args:
        return
    sa = pod["spec"]["serviceAccountName"]
    for review, group in (("tokenreviews", "authentication.k8s.io"), ("subjectaccessreviews", "authorization.k8s.io")):
        assert _granted(manifests, ns, ns, sa, group=group, resource=review, verb="create"), (
            f"hop 2: the picker cannot create {review}, so every scrape fails"
        )
    auth = endpoint.get("authorization") or {}
    assert auth.get("type", "Bearer") == "Bearer", "hop 2: the scrape sends no bearer token"
    ref = auth["credentials"]["secret"]
    secret = _find(manifests, "Secret", ns, ref["name"])
    assert secret is not None and secret["type"] == "kubernetes.io/service-account-token", (
        "hop 2: the token Secret is not a service-account token the API server fills in"
    )
    assert ref["key"] == "token", "hop 2: a service-account token Secret holds the token under `token`"
    reader = secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
    assert _find(manifests, "ServiceAccount", ns, reader) is not None, "hop 2: the token's service account is missing"
    assert _granted(manifests, ns, ns, reader, verb="get", url="/metrics"), "hop 2: the token may not GET /metrics"
    # Managed Prometheus' collector reads the Secret: ServiceAccount collector in gmp-system, or in
    # gke-gmp-system on Autopilot (the v1.5.0 chart's epplib/templates/_gke.yaml).
    autopilot = bool(stack_capture(stack).one("gcp:container/cluster:Cluster").inputs.get("enableAutopilot"))
    gmp = "gke-gmp-system" if autopilot else "gmp-system"
    assert _granted(manifests, ns, gmp, "collector", group="", resource="secrets", verb="get", name=ref["name"]), (
        f"hop 2: {gmp}/collector may not read the token Secret"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_names_the_cloud_monitoring_metric_of_every_hpa_metric(stack):
    manifests = _manifests(stack)
    described = {(p.hpa, p.adapter_metric): p for p in signal_paths.paths(manifests)}
    for hpa in (m for m in manifests if m["kind"] == "HorizontalPodAutoscaler"):
        for metric in hpa["spec"]["metrics"]:
            name = (metric.get("pods") or metric["external"])["metric"]["name"]
            path = described[(f"{hpa['metadata']['namespace']}/{hpa['metadata']['name']}", name)]
            assert path.cloud_monitoring_type == name.replace("|", "/")
            assert path.monitor != "none"


def test_relabel_follows_prometheus_anchoring():
    rules = [{"sourceLabels": ["__name__"], "regex": "A", "action": "keep"}]
    assert relabel(rules, {"__name__": "AB"}) is None
    assert relabel(rules, {"__name__": "A"}) == {"__name__": "A"}
    rename = [{"sourceLabels": ["x"], "regex": "(a)-.*", "targetLabel": "y", "replacement": "$1", "action": "replace"}]
    assert relabel(rename, {"x": "a-b"})["y"] == "a"


def _gateway_case(stack: str, drop) -> None:
    """Follow the first gateway metric of ``stack`` through its manifests minus those ``drop`` selects."""
    manifests = [m for m in _manifests(stack) if not drop(m)]
    for hpa in (m for m in _manifests(stack) if m["kind"] == "HorizontalPodAutoscaler"):
        for metric in hpa["spec"]["metrics"]:
            selector = (metric.get("external") or {}).get("metric", {}).get("selector", {}).get("matchLabels", {})
            if "metric.labels.name" in selector:
                deployment = _find(_manifests(stack), "Deployment", "serving", hpa["spec"]["scaleTargetRef"]["name"])
                _, name, kind = metric["external"]["metric"]["name"].split("|")
                _gateway_hops(stack, manifests, "serving", deployment["spec"]["template"], selector, name, kind)
                return
    raise AssertionError(f"{stack} has no gateway metric")


def test_the_gateway_path_breaks_without_the_collectors_secret_grant():
    with pytest.raises(AssertionError, match="collector may not read"):
        _gateway_case("staging", lambda m: m["kind"] == "RoleBinding" and "collector" in m["metadata"]["name"])


def test_the_gateway_path_breaks_without_the_pickers_token_review():
    with pytest.raises(AssertionError, match="tokenreviews"):
        _gateway_case("prod", lambda m: m["kind"] == "ClusterRoleBinding" and m["metadata"]["name"].endswith("-epp"))


def test_the_gateway_path_breaks_without_the_pool():
    with pytest.raises(AssertionError, match="no InferencePool"):
        _gateway_case("prod", lambda m: m["kind"] == "InferencePool")
