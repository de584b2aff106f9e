"""Pod security: non-root, unprivileged containers without privilege escalation or added
capabilities, under a seccomp profile; read-only root file systems; no service account token in a
pod that calls no Kubernetes API.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._pods import EXEMPT_SYSTEM, WORKLOAD_TYPES, scoped
from ._props import UNKNOWN, elements, get, number, resource_policy

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

POLICIES = [security_context, read_only_root, service_account_token]
