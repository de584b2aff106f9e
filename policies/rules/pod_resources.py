"""Serving pods' resources and probes: requests equal to limits, so a serving pod gets Guaranteed
QoS, and readiness, liveness and (with a GPU) startup probes on every long-running container.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._pods import EXEMPT_SYSTEM, RUN_TO_COMPLETION, WORKLOAD_TYPES, requests_gpu, scoped
from ._props import UNKNOWN, entries, get, quantity, resource_policy

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


def check_probes(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None or pod.kind in RUN_TO_COMPLETION:
        return
    for name, c in pod.main_containers:
        wanted = ["readinessProbe", "livenessProbe"]
        if requests_gpu(c) is True:
            wanted.append("startupProbe")
        for probe in wanted:
            if get(c, probe) is None:
                yield f"container {name!r} has no {probe}: {_PROBE_WHY[probe]}"


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

POLICIES = [guaranteed_resources, probes]
