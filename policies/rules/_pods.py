"""What every pod rule reads: a workload's pod template, and the namespaces and workloads a rule exempts.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._props import UNKNOWN, elements, entries, get, quantity

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
GPU_RESOURCE = "nvidia.com/gpu"

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


def exemptions(default_namespaces: list[str]) -> dict[str, Any]:
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


def requests_gpu(c: Any) -> bool | Any:
    values = [get(c, "resources", kind, GPU_RESOURCE) for kind in ("limits", "requests")]
    if UNKNOWN in values:
        return UNKNOWN
    return any((quantity(v) or 0) > 0 for v in values if v is not None)


EXEMPT_SYSTEM = exemptions(["kube-system"])
