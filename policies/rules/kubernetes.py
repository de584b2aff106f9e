"""Kubernetes guardrails: serving pods (resources, probes, security context, read-only roots,
service account tokens, images, GPU scheduling), HorizontalPodAutoscalers and LoadBalancer Services.

Pod rules read the pod template of every workload kind (``kubernetes:apps/v1:Deployment``,
``StatefulSet``, ``DaemonSet``, ``ReplicaSet``, ``kubernetes:batch/v1:Job``, ``CronJob``'s
``jobTemplate`` and bare ``kubernetes:core/v1:Pod``). They skip the namespaces and workloads in
their ``exemptNamespaces`` / ``exemptWorkloads`` config. ``kube-system`` is exempt by default:
what runs there is the cluster's own plumbing, and the NVIDIA driver installer DaemonSet
(``infra/gpu_driver.py``, upstream ``daemonset-preloaded.yaml``) must run privileged, as root,
to load a kernel module. A workload whose namespace (or name, when workloads are exempted) is
unknown at preview is skipped; ``pulumi up`` checks it once known.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel

from ._props import (
    UNKNOWN,
    elements,
    entries,
    environments_config,
    get,
    in_scope,
    k8s_environment,
    number,
    quantity,
    resource_policy,
)

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
WORKLOAD_TYPES = tuple(POD_SPEC_PATHS)
# Kinds whose pods run to completion: readiness and liveness mean nothing for them.
RUN_TO_COMPLETION = ("Job", "CronJob")
HPA_TYPES = (
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler",
)
SERVICE = "kubernetes:core/v1:Service"

GPU_RESOURCE = "nvidia.com/gpu"
# Taint of GPU nodes (infra/node_pools.py; GKE's own is the same) and the node label GKE puts
# on GPU nodes, which Autopilot requires GPU pods to select
# (https://cloud.google.com/kubernetes-engine/docs/how-to/autopilot-gpus).
GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
# GKE internal passthrough load balancer annotation (and its legacy spelling).
INTERNAL_LB_ANNOTATIONS = ("networking.gke.io/load-balancer-type", "cloud.google.com/load-balancer-type")

_KIND_BY_SHAPE = (("jobTemplate", "CronJob"), ("template", "Deployment"))


@dataclass(frozen=True)
class PodTemplate:
    """The pod spec of a workload and what the rules need to know about its owner."""

    kind: str
    namespace: Any
    name: Any
    spec: Any

    def _named(self, *fields: str) -> list[tuple[str, Any]]:
        out = []
        for field in fields:
            items = elements(self.spec, field)
            if items is UNKNOWN:
                continue
            for c in items:
                if c is not UNKNOWN:
                    name = get(c, "name")
                    out.append(("?" if name in (None, UNKNOWN) else name, c))
        return out

    @property
    def containers(self) -> list[tuple[str, Any]]:
        """``(name, container)`` of init and regular containers (unknown entries skipped)."""
        return self._named("initContainers", "containers")

    @property
    def main_containers(self) -> list[tuple[str, Any]]:
        """``(name, container)`` of the regular containers: those that serve."""
        return self._named("containers")


def pod_template(props: Any) -> PodTemplate | None:
    """The pod template of a workload object, None when it has none (or it is unknown)."""
    kind = get(props, "kind")
    if not isinstance(kind, str):
        spec_keys = entries(props, "spec")
        kind = next((k for key, k in _KIND_BY_SHAPE if isinstance(spec_keys, dict) and key in spec_keys), "Pod")
    path = next((p for t, p in POD_SPEC_PATHS.items() if t.rsplit(":", 1)[-1] == kind), ("spec",))
    spec = get(props, *path)
    if spec is None or spec is UNKNOWN:
        return None
    namespace = get(props, "metadata", "namespace", default="default")
    return PodTemplate(kind=kind, namespace=namespace, name=get(props, "metadata", "name"), spec=spec)


def scoped(props: Any, config: Mapping[str, Any]) -> PodTemplate | None:
    """The pod template when the rule applies to this workload; None when exempt or undecidable."""
    pod = pod_template(props)
    if pod is None or pod.namespace is UNKNOWN:
        return None
    if pod.namespace in set(config.get("exemptNamespaces", ())):
        return None
    exempt = set(config.get("exemptWorkloads", ()))
    if exempt:
        if pod.name is UNKNOWN:
            return None
        if f"{pod.namespace}/{pod.name}" in exempt:
            return None
    return pod


def _exemptions(default_namespaces: list[str]) -> dict[str, Any]:
    return {
        "exemptNamespaces": {
            "type": "array",
            "items": {"type": "string"},
            "default": default_namespaces,
            "description": "Namespaces this rule skips (kube-system: GKE and NVIDIA driver plumbing).",
        },
        "exemptWorkloads": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Workloads this rule skips, as <namespace>/<name>; say why next to the entry in the config file.",
        },
    }


# Resources ------------------------------------------------------------------------------------


def check_resources(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None:
        return
    for name, c in pod.containers:
        requests = entries(c, "resources", "requests")
        limits = entries(c, "resources", "limits")
        if requests is UNKNOWN or limits is UNKNOWN:
            continue
        # A limit without a request is fine: Kubernetes copies the limit into the request
        # (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/).
        for res in sorted(set(requests) | set(limits) | set(config["required"])):
            req, lim = requests.get(res), limits.get(res)
            if UNKNOWN in (req, lim):
                continue
            if lim is None:
                yield (
                    f"container {name!r} has no {res} limit; set resources.limits.{res} equal to its "
                    "request (Guaranteed QoS: a GPU pod is the last one evicted)"
                )
            elif req is not None and quantity(req) != quantity(lim):
                yield f"container {name!r} requests {res} {req} but is limited to {lim}; set requests equal to limits"


# Probes ---------------------------------------------------------------------------------------

_PROBE_WHY = {
    "readinessProbe": "traffic would reach it before the model is loaded",
    "livenessProbe": "a hung server would never be restarted",
    "startupProbe": "loading a model takes minutes and liveness would kill the server first",
}


def _requests_gpu(c: Any) -> bool | Any:
    values = [get(c, "resources", kind, GPU_RESOURCE) for kind in ("limits", "requests")]
    if UNKNOWN in values:
        return UNKNOWN
    return any((quantity(v) or 0) > 0 for v in values if v is not None)


def check_probes(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None or pod.kind in RUN_TO_COMPLETION:
        return
    for name, c in pod.main_containers:
        wanted = ["readinessProbe", "livenessProbe"]
        if _requests_gpu(c) is True:
            wanted.append("startupProbe")
        for probe in wanted:
            if get(c, probe) is None:
                yield f"container {name!r} has no {probe}: {_PROBE_WHY[probe]}"


# Security context -----------------------------------------------------------------------------


# The one capability a container may add (Pod Security Standards, "restricted": capabilities.add
# may hold only NET_BIND_SERVICE), and the most a waived root workload may keep.
ROOT_CAPABILITIES = ("NET_BIND_SERVICE",)
# Workloads that run as UID 0 to bind a port below 1024, each with its reason (README, exceptions):
# the custom-metrics adapter serves the aggregated metrics APIs on 443 because a private cluster's
# control plane reaches pods on 443 and 10250 only (infra/metrics.py).
ROOT_WAIVERS = {
    "custom-metrics/custom-metrics-stackdriver-adapter": "serves the aggregated metrics APIs on 443 (infra/metrics.py)",
}


def check_security_context(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None:
        return
    pod_sc = get(pod.spec, "securityContext")
    if pod_sc is UNKNOWN:
        return
    for name, c in pod.containers:
        sc = get(c, "securityContext")
        if sc is UNKNOWN:
            continue

        def effective(key: str, sc: Any = sc) -> Any:
            own = get(sc, key)
            return own if own is not None else get(pod_sc, key)

        add = elements(sc, "capabilities", "add")
        non_root, user = effective("runAsNonRoot"), number(effective("runAsUser"))
        may_be_root = (
            UNKNOWN not in (non_root, user) and non_root is not True and not (isinstance(user, int) and user > 0)
        )
        waived = pod.name is not UNKNOWN and f"{pod.namespace}/{pod.name}" in set(config.get("rootWorkloads", ()))
        if may_be_root and not (waived and add is not UNKNOWN and set(add) <= set(ROOT_CAPABILITIES)):
            yield f"container {name!r} may run as root; set securityContext.runAsNonRoot true (pod or container)"
        if add is not UNKNOWN and UNKNOWN not in add and set(add) - set(ROOT_CAPABILITIES):
            extra = ", ".join(sorted(set(add) - set(ROOT_CAPABILITIES)))
            yield (
                f"container {name!r} adds Linux capabilities {extra}; Pod Security 'restricted' allows adding only "
                "NET_BIND_SERVICE: remove them from securityContext.capabilities.add"
            )
        if get(sc, "privileged") is True:
            yield f"container {name!r} is privileged (every device and capability of the node); remove securityContext.privileged"
        escalation = get(sc, "allowPrivilegeEscalation")
        if escalation is not UNKNOWN and escalation is not False:
            yield f"container {name!r} allows privilege escalation; set securityContext.allowPrivilegeEscalation false"
        drop = elements(sc, "capabilities", "drop")
        if drop is not UNKNOWN and UNKNOWN not in drop and "ALL" not in drop:
            yield f"container {name!r} keeps the runtime's default Linux capabilities; set securityContext.capabilities.drop [ALL]"
        seccomp = get(sc, "seccompProfile", "type")
        seccomp = seccomp if seccomp is not None else get(pod_sc, "seccompProfile", "type")
        if seccomp is not UNKNOWN and seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name!r} has no seccomp profile; set securityContext.seccompProfile.type RuntimeDefault (pod or container)"


# Read-only root file systems ------------------------------------------------------------------


def check_read_only_root(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    """Every container's root file system is read-only: a compromised server cannot replace its
    own binaries or libraries, and everything it writes is in a volume the pod declares (an
    emptyDir with a size limit). A workload in ``writableRootWorkloads`` is waived."""
    pod = scoped(props, config)
    if pod is None:
        return
    waived = set(config.get("writableRootWorkloads", ()))
    if waived and pod.name is UNKNOWN:
        return
    if f"{pod.namespace}/{pod.name}" in waived:
        return
    for name, c in pod.containers:
        read_only = get(c, "securityContext", "readOnlyRootFilesystem")
        if read_only is not UNKNOWN and read_only is not True:
            yield (
                f"container {name!r} can write to its image's file system; set "
                "securityContext.readOnlyRootFilesystem true and mount an emptyDir where it writes"
            )


# Service account tokens -----------------------------------------------------------------------

# Workloads that call the Kubernetes API and so keep the token Kubernetes mounts, each with its
# reason (README, exceptions): the custom-metrics adapter is an aggregated API server that
# delegates authentication and authorization to the API server (its system:auth-delegator and
# extension-apiserver-authentication-reader bindings, infra/metrics.py) and reads pods and nodes.
API_CLIENTS = {
    "custom-metrics/custom-metrics-stackdriver-adapter": "aggregated API server: TokenReview, "
    "SubjectAccessReview, pods and nodes (infra/metrics.py)",
    # An entry may be a shell-style pattern (fnmatch): one endpoint picker per gateway model.
    "*/*-epp": "the Inference Gateway's endpoint picker watches its InferencePool and the pool's pods "
    "(workloads/epp.py, the v1.5.0 chart's RBAC)",
}


def _projected_tokens(spec: Any) -> list[str] | Any:
    """Names of volumes that project a service account token into the pod."""
    volumes = elements(spec, "volumes")
    if volumes is UNKNOWN:
        return UNKNOWN
    out = []
    for v in volumes:
        sources = elements(v, "projected", "sources")
        if v is UNKNOWN or sources is UNKNOWN or UNKNOWN in sources:
            return UNKNOWN
        if any(get(src, "serviceAccountToken") is not None for src in sources):
            out.append(get(v, "name", default="?"))
    return out


def check_service_account_token(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    """A pod gets its service account's token unless it says ``automountServiceAccountToken: false``.
    Only the pod's field is read: the ServiceAccount's "can be overridden at the pod level" (the
    Kubernetes API reference, ServiceAccount.automountServiceAccountToken). Workload Identity needs
    no token: Google client libraries get Google credentials from the GKE metadata server."""
    pod = scoped(props, config)
    if pod is None:
        return
    clients = set(config.get("apiClients", ()))
    if clients and pod.name is UNKNOWN:
        return
    if any(fnmatch.fnmatchcase(f"{pod.namespace}/{pod.name}", entry) for entry in clients):
        return
    automount = get(pod.spec, "automountServiceAccountToken")
    if automount is not UNKNOWN and automount is not False:
        yield (
            "pod mounts its service account token (automountServiceAccountToken is not false) though "
            "it calls no Kubernetes API; set automountServiceAccountToken false, or list the workload "
            "in apiClients if it does call the API"
        )
    projected = _projected_tokens(pod.spec)
    if projected is not UNKNOWN:
        for name in projected:
            yield (
                f"volume {name!r} projects a service account token into a pod that calls no Kubernetes "
                "API; remove it, or list the workload in apiClients if it does call the API"
            )


# Images ---------------------------------------------------------------------------------------

_TAG = re.compile(r":([\w][\w.-]{0,127})$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference; None when untagged (which pulls ``latest``); the digest when pinned by one."""
    if "@" in image:
        return image.split("@", 1)[1]
    m = _TAG.search(image.rsplit("/", 1)[-1])
    return m.group(1) if m else None


def check_image_pinned(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None:
        return
    env = k8s_environment(props)
    if env is UNKNOWN or env in set(config["allowedEnvironments"]):
        return
    for name, c in pod.containers:
        image = get(c, "image")
        if not isinstance(image, str):
            continue
        tag = image_tag(image)
        if tag is None or tag == "latest":
            how = "untagged (pulls latest)" if tag is None else "tagged latest"
            yield f"container {name!r} image {image} is {how} in {env}; pin a version tag or a digest"


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Image repositories that run from a version tag in prod whatever the stack says, each with its
# reason (README, exceptions): the metrics adapter's image is fixed in infra/metrics.py at the tag
# GKE's published manifest uses, and no registry was reachable here to read its digest.
TAG_WAIVERS = {
    "gcr.io/gke-release/custom-metrics-stackdriver-adapter": "fixed in infra/metrics.py at upstream's tag",
}


def image_repository(image: str) -> str:
    """The reference without its tag and digest (a registry's port stays)."""
    name = image.split("@", 1)[0]
    head, sep, last = name.rpartition("/")
    return f"{head}{sep}{last.split(':', 1)[0]}"


def check_prod_image_digest(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    """In prod every image is pinned by digest: a tag can be pushed again with other content, and
    the pods that start next (a new node, a rollout, an eviction) would run it unreviewed."""
    pod = scoped(props, config)
    if pod is None:
        return
    env = k8s_environment(props)
    if not in_scope(env, config["environments"]):
        return
    allowed = set(config.get("tagAllowed", ()))
    for name, c in pod.containers:
        image = get(c, "image")
        if not isinstance(image, str) or _DIGEST.search(image) or image_repository(image) in allowed:
            continue
        yield (
            f"container {name!r} image {image} is not pinned by digest in {env}: a tag can be moved to other "
            f"content; pin it as {image_repository(image)}@sha256:<digest> (crane digest {image}), or list "
            f"{image_repository(image)} in tagAllowed"
        )


# GPU scheduling -------------------------------------------------------------------------------


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
    gpu = [_requests_gpu(c) for _, c in pod.containers]
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


# HorizontalPodAutoscalers ---------------------------------------------------------------------


def check_hpa_behavior(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    behavior = get(props, "spec", "behavior")
    if behavior is UNKNOWN:
        return
    if behavior is None:
        yield (
            "HPA has no spec.behavior; add one (autoscaling/v2) with fast scale-up and a scale-down "
            "stabilization window, so GPU replicas that take minutes to load are not removed on a dip"
        )
        return
    # Without a window Kubernetes stabilises scale-down over 300 s, which is fine.
    window = number(get(behavior, "scaleDown", "stabilizationWindowSeconds"))
    minimum = number(config["minScaleDownStabilizationSeconds"])
    if isinstance(window, int | float) and window < minimum:
        yield (
            f"HPA scales down after a {window}s stabilization window, below {minimum}s; raise "
            "spec.behavior.scaleDown.stabilizationWindowSeconds"
        )


def check_hpa_bounds(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # minReplicas defaults to 1 (autoscaling/v2 HorizontalPodAutoscalerSpec).
    lo = number(get(props, "spec", "minReplicas", default=1))
    hi = number(get(props, "spec", "maxReplicas"))
    if UNKNOWN in (lo, hi) or not isinstance(hi, int | float):
        return
    if lo > hi:
        yield f"HPA minReplicas {lo} is above maxReplicas {hi}; the API server rejects it; lower min or raise max"


# Services -------------------------------------------------------------------------------------


def check_load_balancer(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if get(props, "spec", "type") != "LoadBalancer":
        return
    env = k8s_environment(props)
    if not in_scope(env, config["environments"]):
        return
    annotations = entries(props, "metadata", "annotations")
    if annotations is UNKNOWN or any(annotations.get(a) in ("Internal", UNKNOWN) for a in INTERNAL_LB_ANNOTATIONS):
        return
    label = config["optInLabel"]
    opted = get(props, "metadata", "labels", label)
    if opted is UNKNOWN or opted == "true":
        return
    yield (
        f"a {env} Service of type LoadBalancer gets a public IP (and a load balancer outside Pulumi state); "
        f"label it {label}: 'true' to opt in, or make it internal ({INTERNAL_LB_ANNOTATIONS[0]}: Internal)"
    )


EXEMPT_SYSTEM = _exemptions(["kube-system"])

guaranteed_resources = resource_policy(
    name="k8s-requests-equal-limits",
    description="Containers set requests equal to limits (cpu and memory at least), so serving pods get Guaranteed QoS.",
    types=WORKLOAD_TYPES,
    check=check_resources,
    config={
        **EXEMPT_SYSTEM,
        "required": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["cpu", "memory"],
            "description": "Resources every container must limit (add ephemeral-storage to require it too).",
        },
    },
)

probes = resource_policy(
    name="k8s-probes",
    description="Long-running containers have readiness and liveness probes, and GPU containers a startup probe.",
    types=WORKLOAD_TYPES,
    check=check_probes,
    config=EXEMPT_SYSTEM,
)

security_context = resource_policy(
    name="k8s-security-context",
    description="Containers run as non-root, unprivileged, without privilege escalation or capabilities, under seccomp RuntimeDefault.",
    types=WORKLOAD_TYPES,
    check=check_security_context,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "rootWorkloads": {
            "type": "array",
            "items": {"type": "string"},
            "default": sorted(ROOT_WAIVERS),
            "description": "Workloads (<namespace>/<name>) that may run as root when every capability is dropped "
            "(NET_BIND_SERVICE may stay); every other check still applies. Say why next to the entry.",
        },
    },
)

read_only_root = resource_policy(
    name="k8s-read-only-root",
    description="Containers run with a read-only root file system (securityContext.readOnlyRootFilesystem true).",
    types=WORKLOAD_TYPES,
    check=check_read_only_root,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "writableRootWorkloads": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "Workloads (<namespace>/<name>) whose image must write into its own folders; every "
            "other check still applies. Say why in the README's exceptions table.",
        },
    },
)

service_account_token = resource_policy(
    name="k8s-service-account-token",
    description="Pods that call no Kubernetes API mount no service account token (automountServiceAccountToken false).",
    types=WORKLOAD_TYPES,
    check=check_service_account_token,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "apiClients": {
            "type": "array",
            "items": {"type": "string"},
            "default": sorted(API_CLIENTS),
            "description": "Workloads (<namespace>/<name>, or a shell-style pattern) that call the Kubernetes "
            "API and keep their token. Say why next to the entry.",
        },
    },
)

image_pinned = resource_policy(
    name="k8s-image-pinned",
    description="Outside dev, container images are pinned to a version tag or digest, never latest or untagged.",
    types=WORKLOAD_TYPES,
    check=check_image_pinned,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "allowedEnvironments": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["dev"],
            "description": "Environments where latest or untagged images are allowed.",
        },
    },
)

prod_image_digest = resource_policy(
    name="k8s-prod-image-digest",
    description="In prod, container images are pinned by digest (image@sha256:...), not only by a tag.",
    types=WORKLOAD_TYPES,
    check=check_prod_image_digest,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "environments": environments_config(["prod"], "whose images must be pinned by digest"),
        "tagAllowed": {
            "type": "array",
            "items": {"type": "string"},
            "default": sorted(TAG_WAIVERS),
            "description": "Image repositories (no tag) that may run from a version tag; say why in the README's "
            "exceptions table and remove the entry once the digest is pinned.",
        },
    },
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
    config=_exemptions(["kube-system", "custom-metrics"]),
)

hpa_behavior = resource_policy(
    name="k8s-hpa-behavior",
    description="Every HorizontalPodAutoscaler has a behavior block with a scale-down stabilization window.",
    types=HPA_TYPES,
    check=check_hpa_behavior,
    config={
        "minScaleDownStabilizationSeconds": {
            "type": "integer",
            "minimum": 0,
            "default": 60,
            "description": "Shortest scale-down stabilization window (seconds) an HPA may set.",
        }
    },
)

hpa_bounds = resource_policy(
    name="k8s-hpa-replica-bounds",
    description="Every HorizontalPodAutoscaler has minReplicas <= maxReplicas.",
    types=HPA_TYPES,
    check=check_hpa_bounds,
)

load_balancer_opt_in = resource_policy(
    name="k8s-prod-load-balancer-opt-in",
    description="A production Service of type LoadBalancer is internal or carries the opt-in label.",
    types=[SERVICE],
    check=check_load_balancer,
    level=EnforcementLevel.MANDATORY,
    config={
        "environments": environments_config(["prod"], "where external LoadBalancer Services need the opt-in label"),
        "optInLabel": {
            "type": "string",
            "default": "gke-gpu-serving/public-load-balancer",
            "description": "Label whose value 'true' opts a Service in to an external load balancer.",
        },
    },
)

POLICIES = [
    guaranteed_resources,
    probes,
    security_context,
    read_only_root,
    service_account_token,
    image_pinned,
    prod_image_digest,
    gpu_scheduling,
    hpa_behavior,
    hpa_bounds,
    load_balancer_opt_in,
]
