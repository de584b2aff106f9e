"""GPU scheduling of pods: a GPU request comes with an accelerator or compute-class selector
(never both), and the GPU taint is tolerated only by pods that request a GPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._pods import WORKLOAD_TYPES, exemptions, requests_gpu, scoped
from ._props import UNKNOWN, elements, get, resource_policy

# Taint of GPU nodes (infra/node_pools.py; GKE's own is the same) and the node label GKE puts
# on GPU nodes, which Autopilot requires GPU pods to select
# (https://cloud.google.com/kubernetes-engine/docs/how-to/autopilot-gpus).
GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"


def _tolerates_gpu_taint(t: Any) -> bool | Any:
    key, op, value, effect = (get(t, f) for f in ("key", "operator", "value", "effect"))
    if UNKNOWN in (key, op, value, effect):
        return UNKNOWN
    op = op or "Equal"
    taint_key, taint_value, taint_effect = GPU_TAINT
    # Kubernetes matching: an empty key with Exists tolerates every taint; an empty effect matches all effects.
    key_ok = key == taint_key or (not key and op == "Exists")
    value_ok = op == "Exists" or value == taint_value
    return key_ok and value_ok and effect in (None, "", taint_effect)


def _selects_accelerator(spec: Any) -> bool | Any:
    selector = get(spec, "nodeSelector")
    if selector is UNKNOWN:
        return UNKNOWN
    if get(selector, ACCELERATOR_LABEL) is not None or get(selector, COMPUTE_CLASS_LABEL) is not None:
        return True
    terms = elements(
        spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"
    )
    if terms is UNKNOWN:
        return UNKNOWN
    for term in terms:
        exprs = elements(term, "matchExpressions")
        if term is UNKNOWN or exprs is UNKNOWN:
            return UNKNOWN
        if any(e is UNKNOWN or get(e, "key") in (ACCELERATOR_LABEL, UNKNOWN) for e in exprs):
            return True
    return False


def check_gpu_scheduling(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    """GPUs only with an accelerator or compute-class selector (not both: GKE, About custom
    ComputeClasses); the GPU toleration only with a GPU request.

    A GPU request without a toleration is fine on GKE: its ExtendedResourceToleration admission
    controller adds ``nvidia.com/gpu:Exists:NoSchedule`` to every pod that requests
    ``nvidia.com/gpu`` (kubernetes.io/docs/reference/access-authn-authz/admission-controllers/
    #extendedresourcetoleration). The taint's point is the other direction: a pod that tolerates
    it without requesting a GPU can take (and keep awake) a GPU node. DaemonSets are exempt from
    that half: they run per node and the cluster autoscaler ignores them when it scales.
    """
    pod = scoped(props, config)
    if pod is None:
        return
    gpu = [requests_gpu(c) for _, c in pod.containers]
    if any(g is True for g in gpu):
        if _selects_accelerator(pod.spec) is False:
            yield (
                "pod requests nvidia.com/gpu but selects no accelerator; set nodeSelector "
                "cloud.google.com/gke-accelerator or cloud.google.com/compute-class (Autopilot rejects GPU pods without one)"
            )
        selector = get(pod.spec, "nodeSelector")
        both = selector is not UNKNOWN and all(
            get(selector, label) not in (None, UNKNOWN) for label in (COMPUTE_CLASS_LABEL, ACCELERATOR_LABEL)
        )
        if both:
            yield (
                "pod selects a compute class and cloud.google.com/gke-accelerator; GKE rejects pods that select a "
                "system label the class has a field for (priorities.gpu.type): remove the accelerator selector"
            )
        return
    if UNKNOWN in gpu or pod.kind == "DaemonSet":
        return
    tolerations = elements(pod.spec, "tolerations")
    if tolerations is UNKNOWN:
        return
    if any(t is not UNKNOWN and _tolerates_gpu_taint(t) is True for t in tolerations):
        yield (
            "pod tolerates the nvidia.com/gpu taint but requests no GPU, so it can take and keep "
            "a GPU node awake; remove the toleration or request nvidia.com/gpu"
        )


gpu_scheduling = resource_policy(
    name="k8s-gpu-scheduling",
    description=(
        "Pods request GPUs only with an accelerator or compute-class selector (never both), and tolerate "
        "the GPU taint only when they request GPUs."
    ),
    types=WORKLOAD_TYPES,
    check=check_gpu_scheduling,
    # custom-metrics: upstream's adapter tolerates GPU nodes (value present) on purpose, so HPAs
    # keep their metrics in clusters whose only nodes are GPU nodes.
    config=exemptions(["kube-system", "custom-metrics"]),
)

POLICIES = [gpu_scheduling]
