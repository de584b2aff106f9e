"""The rules on Kubernetes objects (pods of every workload kind, HPAs, LoadBalancer Services,
Gateways): their rows of the tables ``tests/test_policies_rules.py`` runs (a happy path, one-field
changes with the exact message, preview-time unknowns) and the details the tables cannot show.
The pod-hardening rules' own cases are ``tests/test_policies_pod_rules.py``."""

from __future__ import annotations

from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE

from policies.rules import autoscaling, gateway, images, pod_resources, pod_scheduling, pod_security, services
from tests.policy_harness import (
    C0,
    DELETE,
    DEPLOYMENT,
    DEPLOYMENT_OK,
    GATEWAY,
    GATEWAY_OK,
    HPA,
    HPA_OK,
    LB_OK,
    POD,
    SERVICE,
    changed,
    violations,
)

# (policy, type, happy-path props)
HAPPY = [
    (pod_resources.guaranteed_resources, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_resources.probes, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_security.security_context, DEPLOYMENT, DEPLOYMENT_OK),
    (images.image_pinned, DEPLOYMENT, DEPLOYMENT_OK),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK),
    (autoscaling.hpa_behavior, HPA, HPA_OK),
    (autoscaling.hpa_bounds, HPA, HPA_OK),
    (services.load_balancer_opt_in, SERVICE, LB_OK),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK),
]

# (policy, type, props, path, new value, exact message)
FAILS = [
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "limits", "memory"),
        "32Gi",
        "container 'server' requests memory 16Gi but is limited to 32Gi; set requests equal to limits",
    ),
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "limits", "cpu"),
        DELETE,
        "container 'server' has no cpu limit; set resources.limits.cpu equal to its request "
        "(Guaranteed QoS: a GPU pod is the last one evicted)",
    ),
    (
        pod_resources.guaranteed_resources,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources", "requests", "nvidia.com/gpu"),
        "2",
        "container 'server' requests nvidia.com/gpu 2 but is limited to 1; set requests equal to limits",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "readinessProbe"),
        DELETE,
        "container 'server' has no readinessProbe: traffic would reach it before the model is loaded",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "livenessProbe"),
        DELETE,
        "container 'server' has no livenessProbe: a hung server would never be restarted",
    ),
    (
        pod_resources.probes,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "startupProbe"),
        DELETE,
        "container 'server' has no startupProbe: loading a model takes minutes and liveness would kill the server first",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "securityContext", "runAsNonRoot"),
        DELETE,
        "container 'server' may run as root; set securityContext.runAsNonRoot true (pod or container)",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "privileged"),
        True,
        "container 'server' is privileged (every device and capability of the node); remove securityContext.privileged",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "allowPrivilegeEscalation"),
        DELETE,
        "container 'server' allows privilege escalation; set securityContext.allowPrivilegeEscalation false",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "capabilities", "drop"),
        ["NET_RAW"],
        "container 'server' keeps the runtime's default Linux capabilities; set securityContext.capabilities.drop [ALL]",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "securityContext", "capabilities", "add"),
        ["NET_ADMIN"],
        "container 'server' adds Linux capabilities NET_ADMIN; Pod Security 'restricted' allows adding only "
        "NET_BIND_SERVICE: remove them from securityContext.capabilities.add",
    ),
    (
        pod_security.security_context,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "securityContext", "seccompProfile"),
        DELETE,
        "container 'server' has no seccomp profile; set securityContext.seccompProfile.type RuntimeDefault (pod or container)",
    ),
    (
        images.image_pinned,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "image"),
        "vllm/vllm-openai:latest",
        "container 'server' image vllm/vllm-openai:latest is tagged latest in prod; pin a version tag or a digest",
    ),
    (
        images.image_pinned,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "image"),
        "localhost:5000/t5",
        "container 'server' image localhost:5000/t5 is untagged (pulls latest) in prod; pin a version tag or a digest",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "nodeSelector"),
        DELETE,
        "pod requests nvidia.com/gpu but selects no accelerator; set nodeSelector "
        "cloud.google.com/gke-accelerator or cloud.google.com/compute-class (Autopilot rejects GPU pods without one)",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*POD, "nodeSelector"),
        {"cloud.google.com/compute-class": "l4-serving", "cloud.google.com/gke-accelerator": "nvidia-l4"},
        "pod selects a compute class and cloud.google.com/gke-accelerator; GKE rejects pods that select a "
        "system label the class has a field for (priorities.gpu.type): remove the accelerator selector",
    ),
    (
        pod_scheduling.gpu_scheduling,
        DEPLOYMENT,
        DEPLOYMENT_OK,
        (*C0, "resources"),
        {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "pod tolerates the nvidia.com/gpu taint but requests no GPU, so it can take and keep "
        "a GPU node awake; remove the toleration or request nvidia.com/gpu",
    ),
    (
        autoscaling.hpa_behavior,
        HPA,
        HPA_OK,
        ("spec", "behavior"),
        DELETE,
        "HPA has no spec.behavior; add one (autoscaling/v2) with fast scale-up and a scale-down "
        "stabilization window, so GPU replicas that take minutes to load are not removed on a dip",
    ),
    (
        autoscaling.hpa_behavior,
        HPA,
        HPA_OK,
        ("spec", "behavior", "scaleDown", "stabilizationWindowSeconds"),
        0,
        "HPA scales down after a 0s stabilization window, below 60s; raise "
        "spec.behavior.scaleDown.stabilizationWindowSeconds",
    ),
    (
        autoscaling.hpa_bounds,
        HPA,
        HPA_OK,
        ("spec", "minReplicas"),
        5,
        "HPA minReplicas 5 is above maxReplicas 3; the API server rejects it; lower min or raise max",
    ),
    (
        services.load_balancer_opt_in,
        SERVICE,
        LB_OK,
        ("metadata", "labels", "gke-gpu-serving/public-load-balancer"),
        DELETE,
        "a prod Service of type LoadBalancer gets a public IP (and a load balancer outside Pulumi state); "
        "label it gke-gpu-serving/public-load-balancer: 'true' to opt in, or make it internal "
        "(networking.gke.io/load-balancer-type: Internal)",
    ),
    (
        gateway.gateway_opt_in,
        GATEWAY,
        GATEWAY_OK,
        ("metadata", "labels", "gke-gpu-serving/public-load-balancer"),
        DELETE,
        "a prod Gateway of class gke-l7-regional-external-managed gets an external load balancer (outside Pulumi "
        "state); label it gke-gpu-serving/public-load-balancer: 'true' to opt in, or use an internal class "
        "(gke-l7-rilb)",
    ),
]

# (policy, type, props, path) whose value becomes unknown at preview; the sentinel fits the field.
UNKNOWNS = [
    (pod_resources.guaranteed_resources, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "resources", "limits"), UNKNOWN_STRING_VALUE),
    (pod_resources.probes, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "readinessProbe"), UNKNOWN_STRING_VALUE),
    (pod_security.security_context, DEPLOYMENT, DEPLOYMENT_OK, (*POD, "securityContext"), UNKNOWN_STRING_VALUE),
    (images.image_pinned, DEPLOYMENT, DEPLOYMENT_OK, (*C0, "image"), UNKNOWN_STRING_VALUE),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK, (*POD, "nodeSelector"), UNKNOWN_STRING_VALUE),
    (pod_scheduling.gpu_scheduling, DEPLOYMENT, DEPLOYMENT_OK, ("metadata", "namespace"), UNKNOWN_STRING_VALUE),
    (autoscaling.hpa_behavior, HPA, HPA_OK, ("spec", "behavior"), UNKNOWN_STRING_VALUE),
    (autoscaling.hpa_bounds, HPA, HPA_OK, ("spec", "minReplicas"), UNKNOWN_NUMBER_VALUE),
    (services.load_balancer_opt_in, SERVICE, LB_OK, ("metadata", "labels"), UNKNOWN_STRING_VALUE),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK, ("metadata", "labels"), UNKNOWN_STRING_VALUE),
    (gateway.gateway_opt_in, GATEWAY, GATEWAY_OK, ("spec", "gatewayClassName"), UNKNOWN_STRING_VALUE),
]

# Resources that fail the rule unless the unknown value (their environment or namespace) is what
# keeps the rule from deciding.
FAILING_OTHERWISE = {
    ("k8s-gpu-scheduling", ("metadata", "namespace")): changed(DEPLOYMENT_OK, (*POD, "nodeSelector"), DELETE),
    ("k8s-prod-load-balancer-opt-in", ("metadata", "labels")): changed(
        LB_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
    ("k8s-prod-gateway-opt-in", ("metadata", "labels")): changed(
        GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
    ("k8s-prod-gateway-opt-in", ("spec", "gatewayClassName")): changed(
        GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE
    ),
}


# Details that the one-field table cannot show --------------------------------------------------


def test_latest_image_is_allowed_in_dev():
    dev = changed(DEPLOYMENT_OK, ("metadata", "labels", "gke-gpu-serving/environment"), "dev")
    assert violations(images.image_pinned, DEPLOYMENT, changed(dev, (*C0, "image"), "nginx:latest")) == []


def test_digest_pinned_image_passes():
    image = "nginx@sha256:" + "a" * 64
    assert violations(images.image_pinned, DEPLOYMENT, changed(DEPLOYMENT_OK, (*C0, "image"), image)) == []


def test_unlabelled_service_is_judged_as_prod():
    props = changed(LB_OK, ("metadata", "labels"), DELETE)
    assert len(violations(services.load_balancer_opt_in, SERVICE, props)) == 1


def test_internal_gateway_needs_no_opt_in():
    props = changed(GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    assert (
        violations(gateway.gateway_opt_in, GATEWAY, changed(props, ("spec", "gatewayClassName"), "gke-l7-rilb")) == []
    )


def test_a_gateway_class_the_pack_does_not_know_is_judged_external():
    props = changed(GATEWAY_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    assert len(violations(gateway.gateway_opt_in, GATEWAY, changed(props, ("spec", "gatewayClassName"), "x"))) == 1


def test_internal_load_balancer_needs_no_opt_in():
    props = changed(LB_OK, ("metadata", "labels", "gke-gpu-serving/public-load-balancer"), DELETE)
    props["metadata"]["annotations"] = {"networking.gke.io/load-balancer-type": "Internal"}
    assert violations(services.load_balancer_opt_in, SERVICE, props) == []


def test_kube_system_is_exempt_from_container_rules():
    privileged = changed(DEPLOYMENT_OK, (*C0, "securityContext", "privileged"), True)
    system = changed(privileged, ("metadata", "namespace"), "kube-system")
    assert violations(pod_security.security_context, DEPLOYMENT, system) == []
    assert violations(pod_security.security_context, DEPLOYMENT, privileged) != []


def _root_adapter(add: list[str]) -> dict:
    root = changed(DEPLOYMENT_OK, (*POD, "securityContext", "runAsNonRoot"), DELETE)
    root["metadata"] = {"name": "custom-metrics-stackdriver-adapter", "namespace": "custom-metrics"}
    return changed(root, (*C0, "securityContext", "capabilities"), {"drop": ["ALL"], "add": add})


def test_the_waived_root_workload_passes_with_only_net_bind_service():
    assert violations(pod_security.security_context, DEPLOYMENT, _root_adapter(["NET_BIND_SERVICE"])) == []


def test_a_waived_root_workload_may_also_keep_no_capability_at_all():
    assert violations(pod_security.security_context, DEPLOYMENT, _root_adapter([])) == []


def test_the_waived_root_workload_fails_with_any_other_capability():
    found = violations(pod_security.security_context, DEPLOYMENT, _root_adapter(["NET_BIND_SERVICE", "SYS_ADMIN"]))
    assert any("may run as root" in f for f in found) and any("SYS_ADMIN" in f for f in found)


def test_root_with_net_bind_service_is_refused_for_a_workload_not_waived():
    other = changed(_root_adapter(["NET_BIND_SERVICE"]), ("metadata", "name"), "other")
    assert violations(pod_security.security_context, DEPLOYMENT, other) == [
        "container 'server' may run as root; set securityContext.runAsNonRoot true (pod or container)"
    ]


def test_a_named_workload_can_be_exempted_in_config():
    privileged = changed(DEPLOYMENT_OK, (*C0, "securityContext", "privileged"), True)
    config = {"exemptWorkloads": ["serving/t5"]}
    assert violations(pod_security.security_context, DEPLOYMENT, privileged, config) == []


def test_jobs_need_no_probes_but_their_cronjob_pods_are_read():
    job = changed(DEPLOYMENT_OK, (*C0, "livenessProbe"), DELETE) | {"kind": "Job", "apiVersion": "batch/v1"}
    assert violations(pod_resources.probes, "kubernetes:batch/v1:Job", job) == []
    cron = {
        "kind": "CronJob",
        "metadata": DEPLOYMENT_OK["metadata"],
        "spec": {"jobTemplate": {"spec": changed(DEPLOYMENT_OK, (*C0, "image"), "t5:latest")["spec"]}},
    }
    assert len(violations(images.image_pinned, "kubernetes:batch/v1:CronJob", cron)) == 1


def test_daemonset_may_tolerate_gpu_nodes_without_requesting_gpus():
    cpu_only = changed(DEPLOYMENT_OK, (*C0, "resources"), {"limits": {"cpu": "1", "memory": "1Gi"}})
    daemonset = cpu_only | {"kind": "DaemonSet"}
    assert violations(pod_scheduling.gpu_scheduling, "kubernetes:apps/v1:DaemonSet", daemonset) == []


def test_gpu_pod_on_a_compute_class_selects_the_class_alone():
    on_class = changed(DEPLOYMENT_OK, (*POD, "nodeSelector"), {"cloud.google.com/compute-class": "l4-serving"})
    assert violations(pod_scheduling.gpu_scheduling, DEPLOYMENT, on_class) == []


def test_limits_alone_are_guaranteed():
    """Kubernetes copies a limit into a missing request."""
    props = changed(DEPLOYMENT_OK, (*C0, "resources", "requests"), DELETE)
    assert violations(pod_resources.guaranteed_resources, DEPLOYMENT, props) == []
