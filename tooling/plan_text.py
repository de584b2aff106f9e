"""The offline plan as text: every resource grouped by component, with the properties an operator
checks first, the data sources read, the stack outputs, the signal paths, and the Kubernetes
objects as the manifests the provider would send. Pure rendering of a :class:`~tooling.offline.Capture`;
the CLI is :mod:`tooling.plan`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tooling import offline, signal_paths
from tooling.offline import Capture, Captured

# Components in the order the platform builds them (infra/platform.py).
COMPONENT_ORDER = (
    "gke-gpu-serving:project:Apis",
    "gke-gpu-serving:network:Network",
    "gke-gpu-serving:cluster:GkeCluster",
    "gke-gpu-serving:gpu:GpuNodePool",
    "gke-gpu-serving:gpu:NvidiaDriverInstaller",
    "gke-gpu-serving:storage:ModelBucket",
    "gke-gpu-serving:registry:ImageRegistry",
    "gke-gpu-serving:identity:WorkloadIdentity",
    "gke-gpu-serving:workloads:ConversionJob",
    "gke-gpu-serving:workloads:ModelServer",
    "gke-gpu-serving:workloads:Webapp",
    "gke-gpu-serving:workloads:LoadGenerator",
)


def _component_rank(res: Captured) -> tuple[int, str]:
    rank = COMPONENT_ORDER.index(res.type) if res.type in COMPONENT_ORDER else len(COMPONENT_ORDER)
    return rank, res.name


def _short_type(token: str) -> str:
    """``gcp:container/nodePool:NodePool`` -> ``gcp NodePool``."""
    pkg = token.split(":", 1)[0]
    return f"{pkg} {token.rsplit(':', 1)[-1]}"


def _nodes(auto: dict) -> str:
    lo = auto.get("totalMinNodeCount", auto.get("minNodeCount"))
    hi = auto.get("totalMaxNodeCount", auto.get("maxNodeCount"))
    return f"{lo}..{hi}"


def _containers(spec: dict) -> list[dict]:
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else spec
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _class_priority(rule: dict) -> str:
    """One ComputeClass priority as the plan names it (the config's capacity names)."""
    reservations = rule.get("reservations") or {}
    if reservations.get("affinity") == "Specific":
        return "reservation " + ",".join(r.get("name", "?") for r in reservations.get("specific") or [])
    if reservations.get("affinity") == "AnyBestEffort":
        return "any-reservation"
    if (rule.get("flexStart") or {}).get("enabled"):
        return "flex-start"
    return "spot" if rule.get("spot") else "on-demand"


def _hpa_signal(metric: dict) -> str:
    """``<metric name>=<target>`` of one HPA metric (Pods or External)."""
    body = metric.get(metric.get("type", "").lower()) or {}
    name = (body.get("metric") or {}).get("name", "?").split("|")[1:2] or ["?"]
    target = (body.get("target") or {}).get("averageValue") or (body.get("target") or {}).get("averageUtilization")
    return f"{name[0]}={target}"


def _gateway_highlights(kind: Any, spec: dict) -> dict[str, Any]:
    """A Gateway's class and listeners, where a route sends requests, what a pool selects and asks."""
    if kind == "Gateway":
        listeners = ",".join(f"{x.get('protocol')}:{x.get('port')}" for x in spec.get("listeners") or [])
        return {"class": spec.get("gatewayClassName"), "listeners": listeners}
    if kind == "HTTPRoute":
        parents = ",".join(p.get("name", "") for p in spec.get("parentRefs") or [])
        backends = ",".join(
            f"{b.get('kind')}/{b.get('name')}" for r in spec.get("rules") or [] for b in r.get("backendRefs") or []
        )
        return {"route": f"{parents} -> {backends}"}
    if kind == "InferencePool":
        picker = spec.get("endpointPickerRef") or {}
        ports = ",".join(str(p.get("number")) for p in spec.get("targetPorts") or [])
        return {
            "targetPorts": ports,
            "endpointPicker": f"{picker.get('name')}:{(picker.get('port') or {}).get('number')}",
        }
    return {}


def highlights(res: Captured) -> dict[str, Any]:
    """The few properties an operator looks at first, per resource type."""
    i = res.inputs
    t = res.type
    if t == "gcp:container/cluster:Cluster":
        private = (i.get("privateClusterConfig") or {}).get("enablePrivateNodes", False)
        return {
            "name": i.get("name"),
            "location": i.get("location"),
            "mode": "autopilot" if i.get("enableAutopilot") else "standard",
            "channel": (i.get("releaseChannel") or {}).get("channel"),
            "privateNodes": private,
            "dnsEndpoint": ((i.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {}).get(
                "allowExternalTraffic"
            ),
            "binaryAuthorization": (i.get("binaryAuthorization") or {}).get("evaluationMode"),
            "intranodeVisibility": i.get("enableIntranodeVisibility"),
            "gatewayApi": (i.get("gatewayApiConfig") or {}).get("channel"),
            "deletionProtection": i.get("deletionProtection"),
            "autoprovisioning": ", ".join(
                f"{r.get('resourceType')}<={r.get('maximum')}"
                for r in ((i.get("clusterAutoscaling") or {}).get("resourceLimits") or [])
            )
            or None,
            "workloadPool": (i.get("workloadIdentityConfig") or {}).get("workloadPool"),
        }
    if t == "gcp:container/nodePool:NodePool":
        nc = i.get("nodeConfig") or {}
        out: dict[str, Any] = {"name": i.get("name"), "machine": nc.get("machineType")}
        for acc in nc.get("guestAccelerators") or []:
            out["accelerator"] = f"{acc.get('count')}x {acc.get('type')}"
            out["driver"] = (acc.get("gpuDriverInstallationConfig") or {}).get("gpuDriverVersion")
            sharing = acc.get("gpuSharingConfig")
            if sharing:
                out["sharing"] = f"{sharing.get('gpuSharingStrategy')}/{sharing.get('maxSharedClientsPerGpu')}"
        out["nodes"] = _nodes(i.get("autoscaling") or {})
        if nc.get("spot"):
            out["spot"] = True
        if nc.get("taints"):
            out["taints"] = ",".join(f"{x['key']}={x.get('value', '')}:{x['effect']}" for x in nc["taints"])
        if i.get("nodeLocations"):
            out["zones"] = ",".join(i["nodeLocations"])
        return out
    if t == "gcp:compute/subnetwork:Subnetwork":
        ranges = ",".join(f"{r['rangeName']}={r['ipCidrRange']}" for r in i.get("secondaryIpRanges") or [])
        flows = (i.get("logConfig") or {}).get("flowSampling")
        return {
            "name": i.get("name"),
            "region": i.get("region"),
            "cidr": i.get("ipCidrRange"),
            "purpose": i.get("purpose"),
            "secondary": ranges,
            "flowLogs": f"{flows:g}" if flows is not None else None,
        }
    if t == "gcp:storage/bucket:Bucket":
        return {
            "name": i.get("name"),
            "location": i.get("location"),
            "uniformAccess": i.get("uniformBucketLevelAccess"),
            "publicAccessPrevention": i.get("publicAccessPrevention"),
            "versioning": (i.get("versioning") or {}).get("enabled"),
            "softDeleteDays": (i.get("softDeletePolicy") or {}).get("retentionDurationSeconds", 0) // 86_400,
            "forceDestroy": i.get("forceDestroy"),
        }
    if t == "gcp:artifactregistry/repository:Repository":
        remote = i.get("remoteRepositoryConfig") or {}
        upstream = (remote.get("dockerRepository") or {}).get("publicRepository") or (
            remote.get("commonRepository") or {}
        ).get("uri")
        return {
            "id": i.get("repositoryId"),
            "location": i.get("location"),
            "format": i.get("format"),
            "mode": (i.get("mode") or "").replace("_REPOSITORY", "").lower() or None,
            "upstream": upstream,
            "cleanup": ",".join(c["id"] for c in i.get("cleanupPolicies") or []),
        }
    if t in ("gcp:monitoring/dashboard:Dashboard", "gcp:monitoring/alertPolicy:AlertPolicy"):
        if t.endswith("Dashboard"):
            return {"title": json.loads(i.get("dashboardJson") or "{}").get("displayName")}
        return {"alert": i.get("displayName"), "channels": len(i.get("notificationChannels") or [])}
    if t == "gcp:projects/service:Service":
        return {"service": i.get("service")}
    if t == "gcp:serviceaccount/account:Account":
        return {"accountId": i.get("accountId")}
    if t.lower().endswith("iammember"):
        return {"role": i.get("role"), "member": i.get("member")}
    if t.startswith("pulumi:providers:"):
        return {"provider": t.rsplit(":", 1)[-1], "auth": "kubeconfig (gke-gcloud-auth-plugin)"}
    if res.is_kubernetes:
        meta = i.get("metadata") or {}
        out = {"name": f"{meta.get('namespace', '')}/{meta.get('name', '')}".lstrip("/")}
        spec = i.get("spec") or {}
        if "replicas" in spec:
            out["replicas"] = spec["replicas"]
        containers = _containers(spec)
        images = [c.get("image") for c in containers if c.get("image")]
        if images:
            out["images"] = ",".join(images)
        # A model server's image source and streaming verdict (workloads/serving.py annotations).
        notes = meta.get("annotations") or {}
        out["upstream"] = notes.get("gke-gpu-serving/image-upstream")
        out["streams"] = notes.get("gke-gpu-serving/image-streaming")
        gpus = sum(int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0)) for c in containers)
        if gpus:
            pod = spec.get("template", {}).get("spec", {})
            selector = pod.get("nodeSelector") or {}
            if "cloud.google.com/compute-class" in selector:
                out["gpu"] = f"{gpus}x class {selector['cloud.google.com/compute-class']}"
            else:
                out["gpu"] = f"{gpus}x {selector.get('cloud.google.com/gke-accelerator', '?')}"
            # An Autopilot pod's driver selector, and why the workload chose it (its annotation).
            driver = (pod.get("nodeSelector") or {}).get("cloud.google.com/gke-gpu-driver-version")
            if driver:
                why = ((spec.get("template", {}).get("metadata") or {}).get("annotations") or {}).get(
                    "gke-gpu-serving/gpu-driver"
                )
                out["driver"] = why or driver
        if i.get("kind") == "ComputeClass":
            first = (spec.get("priorities") or [{}])[0]
            gpu = first.get("gpu") or {}
            out["shape"] = f"{first.get('machineType')} + {gpu.get('count')}x {gpu.get('type')}"
            out["chain"] = ">".join(_class_priority(p) for p in spec.get("priorities") or [])
            out["driver"] = (meta.get("annotations") or {}).get("gke-gpu-serving/gpu-driver") or gpu.get(
                "driverVersion"
            )
        if spec.get("type") and spec.get("ports"):
            ports = ",".join(
                f"{p['name']}:{p.get('port')}" if p.get("name") else str(p.get("port")) for p in spec["ports"]
            )
            out["service"] = f"{spec['type']} {ports}"
        if "scaleTargetRef" in spec:
            out["bounds"] = f"{spec.get('minReplicas')}..{spec.get('maxReplicas')}"
            out["signals"] = ",".join(_hpa_signal(m) for m in spec.get("metrics") or [])
            down = ((spec.get("behavior") or {}).get("scaleDown") or {}).get("stabilizationWindowSeconds")
            out["scaleDownStabilization"] = f"{down}s" if down is not None else None
        out.update(_gateway_highlights(i.get("kind"), spec))
        if "endpoints" in spec:
            out["scrapes"] = ",".join(f"{e.get('port')}{e.get('path', '')}" for e in spec["endpoints"])
        for key in ("backoffLimit", "activeDeadlineSeconds"):
            if key in spec:
                out[key] = spec[key]
        return out
    return {k: i[k] for k in ("name", "location", "region") if isinstance(i.get(k), str)}


def _flags(res: Captured, capture: Capture) -> str:
    flags = []
    if res.protect:
        flags.append("protected")
    if res.retain_on_delete:
        flags.append("retained on delete")
    if res.deleted_with:
        target = capture.by_urn(res.deleted_with)
        flags.append(f"deleted with {target.name if target else res.deleted_with}")
    return f"  [{'; '.join(flags)}]" if flags else ""


def _fmt(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items() if v not in (None, "", [], {}))


def render_text(stack: str, capture: Capture, cost_lines: Sequence[str] = ()) -> str:
    """The human-readable plan; ``cost_lines`` (the estimate) go just before the summary."""
    lines = [
        f"Offline plan of stack '{stack}' (mock runtime: no cloud calls; provider-computed values are placeholders)",
        "",
    ]
    components = {r.urn: r for r in capture.resources if not r.custom}
    groups: dict[str, list[Captured]] = {}
    for res in capture.resources:
        if res.custom:
            groups.setdefault(res.parent if res.parent in components else "", []).append(res)
    order = [""] + [c.urn for c in sorted(components.values(), key=_component_rank)]
    for urn in order:
        # Registration order depends on when each resource's dependencies resolve, which varies
        # run to run: sort, so the same stack always prints the same plan.
        members = sorted(groups.get(urn, []), key=lambda r: (_short_type(r.type), r.name))
        if not members:
            continue
        comp = components.get(urn)
        lines.append(f"{comp.type}  {comp.name}" if comp else "(stack)")
        width = max(len(_short_type(r.type)) for r in members)
        for res in members:
            lines.append(
                f"  + {_short_type(res.type):<{width}}  {res.name:<28} {_fmt(highlights(res))}{_flags(res, capture)}"
            )
        lines.append("")
    if capture.invokes:
        lines.append("Reads (data sources):")
        for inv in sorted(capture.invokes, key=lambda i: (i.token, json.dumps(i.args, sort_keys=True, default=str))):
            lines.append(f"  ~ {inv.token}  {_fmt({k: v for k, v in inv.args.items() if isinstance(v, (str, int))})}")
        lines.append("")
    lines.append("Outputs:")
    for key, value in offline.outputs_json(capture).items():
        if isinstance(value, dict) and value:
            lines.append(f"  {key}:")
            lines.extend(f"    {k}: {v}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"  {key}:")
            lines.extend(f"    - {_fmt(v)}" for v in value)
        else:
            lines.append(f"  {key}: {value}")
    lines.append("")
    manifests = [kubernetes_manifest(r) for r in capture.kubernetes_objects()]
    found = signal_paths.paths(manifests)
    if found:
        lines.append("Signal paths (exporter :port -> monitor -> Cloud Monitoring metric -> HPA metric):")
        lines.extend(f"  {p.line()}" for p in found)
        lines.append("")
    if cost_lines:
        lines.extend([*cost_lines, ""])
    custom = [r for r in capture.resources if r.custom]
    counts = Counter(r.type.rsplit(":", 1)[-1] for r in custom)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    lines.append(
        f"Summary: {len(custom)} resources to create in {len(components)} components ({kinds}); "
        f"{len(capture.kubernetes_objects())} Kubernetes objects."
    )
    return "\n".join(lines)


def kubernetes_manifest(res: Captured) -> dict[str, Any]:
    """A Kubernetes object as it would be applied; Secret payloads are redacted."""
    obj = {
        k: v
        for k, v in res.inputs.items()
        if k
        in (
            "apiVersion",
            "kind",
            "metadata",
            "spec",
            "data",
            "stringData",
            "rules",
            "roleRef",
            "subjects",
            "type",
            "webhooks",
        )
    }
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in obj:
                obj[key] = {k: offline.SECRET_PLACEHOLDER for k in obj[key]}
    return obj


def render_manifests(capture: Capture, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for res in capture.kubernetes_objects():
        obj = kubernetes_manifest(res)
        meta = obj.get("metadata", {})
        stem = "-".join(p for p in (obj.get("kind", "object").lower(), meta.get("namespace"), meta.get("name")) if p)
        path = out_dir / f"{stem}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
        written.append(path)
    return written


def describe(res: Captured) -> str:
    """One line of highlights, shared by the plan, the diff and the pull-request comment."""
    return _fmt(highlights(res))
