"""Autoscaling end to end on the captured objects: the adapter (all 13 objects, Workload Identity
with monitoring.viewer), collection (PodMonitoring per server, DCGM re-export) and one HPA per
model whose every metric some monitor scrapes; plus the known failure modes of DESIGN.md §5."""

from __future__ import annotations

import json
import re

import pytest

from infra import config, monitoring, signals
from tests.conftest import STACKS, raw_with, run_raw, stack_capture
from tests.test_config import NS, model, only_line_for
from workloads import autoscaling

HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PODMON = "kubernetes:monitoring.googleapis.com/v1:PodMonitoring"
CLUSTER_PODMON = "kubernetes:monitoring.googleapis.com/v1:ClusterPodMonitoring"
ADAPTER = "gke-gpu-serving:metrics:CustomMetricsAdapter"

ADAPTER_OBJECTS = [
    ("Namespace", "custom-metrics"),
    ("ServiceAccount", "custom-metrics-stackdriver-adapter"),
    ("ClusterRoleBinding", "custom-metrics:system:auth-delegator"),
    ("RoleBinding", "custom-metrics-auth-reader"),
    ("ClusterRole", "custom-metrics-resource-reader"),
    ("ClusterRoleBinding", "custom-metrics-resource-reader"),
    ("Deployment", "custom-metrics-stackdriver-adapter"),
    ("Service", "custom-metrics-stackdriver-adapter"),
    ("APIService", "v1beta1.custom.metrics.k8s.io"),
    ("APIService", "v1beta2.custom.metrics.k8s.io"),
    ("APIService", "v1beta1.external.metrics.k8s.io"),
    ("ClusterRole", "external-metrics-reader"),
    ("ClusterRoleBinding", "external-metrics-reader"),
]


def _adapter_objects(capture):
    comp = capture.one(ADAPTER)
    urns = {comp.urn}
    urns |= {r.urn for r in capture.resources if r.parent in urns}
    urns |= {r.urn for r in capture.resources if r.parent in urns}
    return [r for r in capture.kubernetes_objects() if r.parent in urns]


@pytest.mark.parametrize("stack", STACKS)
def test_adapter_has_all_13_reference_objects(stack):
    found = sorted((r.inputs["kind"], r.inputs["metadata"]["name"]) for r in _adapter_objects(stack_capture(stack)))
    assert found == sorted(ADAPTER_OBJECTS)


@pytest.mark.parametrize("stack", STACKS)
def test_external_metrics_reader_is_bound_to_the_hpa_controller(stack):
    binding = next(
        r
        for r in _adapter_objects(stack_capture(stack))
        if r.inputs["kind"] == "ClusterRoleBinding" and r.inputs["metadata"]["name"] == "external-metrics-reader"
    )
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "horizontal-pod-autoscaler", "namespace": "kube-system"}
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_adapter_tolerations_use_equal_present(stack):
    deployment = next(r for r in _adapter_objects(stack_capture(stack)) if r.inputs["kind"] == "Deployment")
    tolerations = deployment.inputs["spec"]["template"]["spec"]["tolerations"]
    assert {(t["operator"], t["value"]) for t in tolerations} == {("Equal", "present")}


@pytest.mark.parametrize("stack", STACKS)
def test_adapter_identity_holds_monitoring_viewer_through_a_member(stack):
    capture = stack_capture(stack)
    grant = capture.one("gcp:projects/iAMMember:IAMMember", "metrics-adapter-id-monitoring.viewer")
    gsa = capture.one("gcp:serviceaccount/account:Account", "metrics-adapter-id-gsa")
    assert (
        grant.inputs["member"]
        == f"serviceAccount:{gsa.inputs['accountId']}@replace-with-your-project-id.iam.gserviceaccount.com"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_adapter_ksa_may_impersonate_its_identity(stack):
    wi = stack_capture(stack).one("gcp:serviceaccount/iAMMember:IAMMember", "metrics-adapter-id-wi-user")
    assert wi.inputs["member"].endswith(".svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]")


def test_adapter_switch_off_creates_none_of_it():
    raw = raw_with(metrics={"customMetricsAdapter": False, "externalAdapter": True})
    assert not run_raw(raw).of_type("kubernetes:apiregistration.k8s.io/v1:APIService")


def _serving(capture):
    return [
        d
        for d in capture.of_type(DEPLOYMENT)
        if d.inputs["metadata"]["labels"]["app.kubernetes.io/component"] == "model-server"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_each_serving_deployment_has_exactly_one_hpa_with_behavior(stack):
    capture = stack_capture(stack)
    for d in _serving(capture):
        hpas = [
            h
            for h in capture.of_type(HPA)
            if h.inputs["spec"]["scaleTargetRef"]["name"] == d.inputs["metadata"]["name"]
        ]
        assert len(hpas) == 1
        assert set(hpas[0].inputs["spec"]["behavior"]) == {"scaleUp", "scaleDown"}


@pytest.mark.parametrize("stack", STACKS)
def test_hpa_owns_replicas_after_creation(stack):
    for d in _serving(stack_capture(stack)):
        assert "spec.replicas" in d.ignore_changes


def _labels_match(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _scraped_by_podmonitoring(capture, deployment, metric_name) -> bool:
    pod = deployment.inputs["spec"]["template"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    server = deployment.inputs["metadata"]["labels"]["gke-gpu-serving/server"]
    exported = {signals.resolve(n, server).hpa_metric for n in signals.signals_for(server)}
    for mon in capture.of_type(PODMON):
        spec = mon.inputs["spec"]
        if _labels_match(spec["selector"]["matchLabels"], pod["metadata"]["labels"]) and all(
            e["port"] in ports for e in spec["endpoints"]
        ):
            return metric_name in exported
    return False


def _scraped_from_the_endpoint_picker(capture, pool) -> bool:
    """A PodMonitoring selects the pods of the Deployment that runs the EPP of ``pool``."""
    for d in capture.of_type(DEPLOYMENT):
        pod = d.inputs["spec"]["template"]
        args = pod["spec"]["containers"][0].get("args") or []
        if "--pool-name" in args and args[args.index("--pool-name") + 1] == pool:
            return any(
                _labels_match(mon.inputs["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"])
                for mon in capture.of_type(PODMON)
            )
    return False


def _scraped_by_dcgm(capture, model_name, metric_name) -> bool:
    for mon in capture.of_type(CLUSTER_PODMON):
        rules = mon.inputs["spec"]["endpoints"][0]["metricRelabeling"]
        renamed = {r["replacement"] for r in rules if r.get("targetLabel") == "__name__"}
        tagging = next(r for r in rules if r.get("targetLabel") == signals.MODEL_LABEL)
        if metric_name.split("|")[1] in renamed and re.fullmatch(tagging["regex"], f"{model_name}-5d8f7c9b4-x2x7q"):
            return True
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_every_hpa_metric_is_scraped_from_its_target(stack):
    capture = stack_capture(stack)
    for h in capture.of_type(HPA):
        spec = h.inputs["spec"]
        target = capture.one(DEPLOYMENT, f"model-{spec['scaleTargetRef']['name']}-deployment")
        for m in spec["metrics"]:
            if m["type"] == "Pods":
                assert _scraped_by_podmonitoring(capture, target, m["pods"]["metric"]["name"])
            elif "metric.labels.name" in m["external"]["metric"]["selector"]["matchLabels"]:
                pool = m["external"]["metric"]["selector"]["matchLabels"]["metric.labels.name"]
                assert _scraped_from_the_endpoint_picker(capture, pool)
            else:
                assert _scraped_by_dcgm(capture, spec["scaleTargetRef"]["name"], m["external"]["metric"]["name"])


@pytest.mark.parametrize("stack", STACKS)
def test_external_metric_names_are_lower_case(stack):
    for h in stack_capture(stack).of_type(HPA):
        for m in h.inputs["spec"]["metrics"]:
            if m["type"] == "External":
                assert m["external"]["metric"]["name"] == m["external"]["metric"]["name"].lower()


@pytest.mark.parametrize("stack", STACKS)
def test_podmonitoring_port_is_a_named_container_port(stack):
    capture = stack_capture(stack)
    for mon in capture.of_type(PODMON):
        (d,) = [
            d
            for d in capture.of_type(DEPLOYMENT)
            if _labels_match(
                mon.inputs["spec"]["selector"]["matchLabels"], d.inputs["spec"]["template"]["metadata"]["labels"]
            )
        ]
        names = {p["name"] for p in d.inputs["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert {e["port"] for e in mon.inputs["spec"]["endpoints"]} <= names


def test_every_example_model_scales_on_a_queue_signal_where_one_exists():
    for stack in STACKS:
        cfg = config.parse(_raw(stack))
        for m in cfg.models:
            queue = [n for n in signals.signals_for(m.server) if signals.SIGNALS[n].source in ("server", "gateway")]
            used = [s.signal for s in m.autoscaling.signals]
            assert not queue or used[0] in queue, (stack, m.name)


def test_some_example_model_scales_on_a_gpu_signal():
    used = {s.signal for st in STACKS for m in config.parse(_raw(st)).models for s in m.autoscaling.signals}
    assert used & {"gpu-utilization", "gpu-memory"}


def _raw(stack):
    from tooling.offline import read_stack_config

    cfg, _ = read_stack_config(stack)
    return {k.split(":", 1)[1]: config.decode_value(v) for k, v in cfg.items()}


# Pure pieces ----------------------------------------------------------------------------------


def test_torchserve_queue_latency_is_the_upstream_hpa_metric():
    assert signals.resolve("queue-latency", "torchserve").hpa_metric == (
        "prometheus.googleapis.com|ts_queue_latency_microseconds|counter"
    )


def test_vllm_queue_metric_name():
    assert (
        signals.resolve("queue-size", "vllm").hpa_metric == "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"
    )


def test_default_behavior_scales_up_at_once_and_down_after_300s():
    b = autoscaling.behavior(config.Behavior())
    assert (b["scaleUp"]["stabilizationWindowSeconds"], b["scaleDown"]["stabilizationWindowSeconds"]) == (0, 300)


def test_fractional_target_becomes_a_milli_quantity():
    m = config.parse(
        raw_with(
            models=[
                {
                    "name": "llm",
                    "server": "vllm",
                    "gpu": {"type": "nvidia-tesla-t4", "count": 1},
                    "source": "hf://org/m",
                    "autoscaling": {"signals": [{"signal": "batch-size", "target": 0.75}]},
                }
            ]
        )
    ).models[0]
    assert autoscaling.hpa_metrics(m, "serving", "c", "us-central1")[0]["pods"]["target"]["averageValue"] == "750m"


def test_dcgm_reexport_keeps_only_the_renamed_metrics():
    keep = autoscaling.dcgm_relabeling(["a"])[0]
    assert (keep["action"], set(keep["regex"].split("|"))) == ("keep", set(signals.DCGM_RENAMES))


def test_dashboard_has_replica_and_gpu_tiles_per_model():
    panels = [monitoring.ModelPanel(name=n, server="vllm", namespace="serving") for n in ("a", "b")]
    scope = monitoring.Scope(cluster="c", location="us-central1")
    dashboard = json.loads(monitoring.dashboard_json("x", panels, scope))
    titles = [t["widget"]["title"] for t in dashboard["mosaicLayout"]["tiles"]]
    assert {"a: available replicas", "b: GPU utilisation (%)"} <= set(titles)


def test_alert_policies_notify_the_configured_channels():
    channel = "projects/p/notificationChannels/123"
    capture = run_raw(raw_with(metrics={"notificationChannels": [channel]}))
    alerts = capture.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    assert sorted(a.inputs["displayName"].split(": ", 1)[1] for a in alerts) == [
        "GPU pods unschedulable",
        "HPA at max replicas for 15 minutes",
    ]
    assert all(a.inputs["notificationChannels"] == [channel] for a in alerts)


# Config rules ---------------------------------------------------------------------------------


def auto(*sig, **model_changes):
    return raw_with(models=model(autoscaling={"signals": list(sig)}, **model_changes))


def test_signal_the_server_does_not_export_is_rejected():
    line = only_line_for(auto({"signal": "queue-size"}), f"{NS}:models[0].autoscaling.signals[0].signal")
    assert "torchserve does not export queue-size" in line


def test_target_at_or_below_zero_is_rejected():
    raw = auto({"signal": "queue-latency", "target": 0})
    assert "must be > 0" in only_line_for(raw, f"{NS}:models[0].autoscaling.signals[0].target")


def test_max_over_pool_capacity_is_rejected():
    raw = auto({"signal": "queue-latency"}, replicas={"min": 1, "max": 5})
    line = only_line_for(raw, f"{NS}:models[0].replicas.max")
    assert "hold at most 2 pods" in line and "Pending" in line


def test_hpa_without_any_adapter_is_rejected():
    raw = auto({"signal": "queue-latency"})
    raw["metrics"] = {"customMetricsAdapter": False}
    assert "<unknown>" in only_line_for(raw, f"{NS}:models[0].autoscaling")


def test_second_custom_metrics_owner_is_rejected():
    raw = raw_with(metrics={"customMetricsAdapter": True, "externalAdapter": True})
    assert "second" in only_line_for(raw, f"{NS}:metrics.customMetricsAdapter")


def test_gpu_signal_on_daemonset_driver_pools_is_rejected():
    raw = auto({"signal": "gpu-utilization"})
    raw["gpuPools"][0]["driver"] = "daemonset"
    assert "GKE-managed drivers" in only_line_for(raw, f"{NS}:models[0].autoscaling.signals[0].signal")


def test_gpu_memory_for_vllm_is_rejected():
    raw = raw_with(
        models=[
            {
                "name": "llm",
                "server": "vllm",
                "gpu": {"type": "nvidia-tesla-t4", "count": 1},
                "source": "hf://org/m",
                "autoscaling": {"signals": [{"signal": "gpu-memory"}]},
            }
        ]
    )
    assert "pre-allocates" in only_line_for(raw, f"{NS}:models[0].autoscaling.signals[0].signal")


def test_hpa_with_zero_min_replicas_is_rejected():
    raw = auto({"signal": "queue-latency"}, replicas={"min": 0, "max": 2})
    assert "minReplicas >= 1" in only_line_for(raw, f"{NS}:models[0].replicas.min")


# A private cluster's control plane opens connections to nodes on TCP 443 and 10250 only (GKE,
# private clusters, "Adding firewall rules for specific use cases"); the API server dials the
# aggregated API's pod IP on the Service's targetPort (--enable-aggregator-routing).
CONTROL_PLANE_TO_NODE_PORTS = (443, 10250)


@pytest.mark.parametrize("stack", STACKS)
def test_adapter_listens_on_a_port_a_private_control_plane_reaches(stack):
    objs = _adapter_objects(stack_capture(stack))
    deployment = next(r for r in objs if r.inputs["kind"] == "Deployment")
    service = next(r for r in objs if r.inputs["kind"] == "Service")
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (target,) = [p["targetPort"] for p in service.inputs["spec"]["ports"]]
    assert ports[target] in CONTROL_PLANE_TO_NODE_PORTS


def test_adapter_keeps_only_the_capability_to_bind_443():
    objs = _adapter_objects(stack_capture("dev"))
    deployment = next(r for r in objs if r.inputs["kind"] == "Deployment")
    sc = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert sc["allowPrivilegeEscalation"] is False
