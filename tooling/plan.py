"""Offline plan: what a stack would create, without a cloud account, credentials or Pulumi CLI.

    python -m tooling.plan --stack dev [--stack prod ...] [--render DIR] [--save FILE]
                         [--diff OLD.json] [--format text|markdown] [--color]

Runs ``__main__.py`` under the Pulumi SDK's mock runtime with the config of
``Pulumi.<stack>.yaml`` (see :mod:`tooling.offline`) and prints every resource it would register,
grouped by component, with the properties an operator checks first, then the stack outputs, the
cost estimate (:mod:`tooling.cost`) and a count summary. ``--render DIR`` also writes every
Kubernetes object as YAML. ``--save FILE`` writes the plans of all requested stacks as one JSON
document with secrets redacted; ``--diff OLD.json`` prints what changes against such a file
(replacements first) and the cost delta; ``--format markdown`` prints one pull-request comment
(:mod:`tooling.plan_diff`, :mod:`tooling.plan_report`). Values a provider computes (endpoints,
emails, random suffixes) are mock values; ``secure:`` config values are never decrypted. A bad
config prints the validation message and exits 2, with no traceback; a diff exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import yaml

from infra import capacity, config
from tooling import cost, offline, plan_diff, plan_report, signal_paths
from tooling.offline import Capture, Captured

EXIT_CONFIG = 2
# A MANDATORY policy violation (tooling/policy_check.py): distinct from a config error.
EXIT_POLICY = 3
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


def _hpa_signal(metric: dict) -> str:
    """``<metric name>=<target>`` of one HPA metric (Pods or External)."""
    body = metric.get(metric.get("type", "").lower()) or {}
    name = (body.get("metric") or {}).get("name", "?").split("|")[1:2] or ["?"]
    target = (body.get("target") or {}).get("averageValue") or (body.get("target") or {}).get("averageUtilization")
    return f"{name[0]}={target}"


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
            "deletionProtection": i.get("deletionProtection"),
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
        return {
            "id": i.get("repositoryId"),
            "location": i.get("location"),
            "format": i.get("format"),
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
        gpus = sum(int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0)) for c in containers)
        if gpus:
            pod = spec.get("template", {}).get("spec", {})
            accelerator = (pod.get("nodeSelector") or {}).get("cloud.google.com/gke-accelerator", "?")
            out["gpu"] = f"{gpus}x {accelerator}"
            # An Autopilot pod's driver selector, and why the workload chose it (its annotation).
            driver = (pod.get("nodeSelector") or {}).get("cloud.google.com/gke-gpu-driver-version")
            if driver:
                why = ((spec.get("template", {}).get("metadata") or {}).get("annotations") or {}).get(
                    "gke-gpu-serving/gpu-driver"
                )
                out["driver"] = why or driver
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


def _use_color(forced: bool) -> bool:
    """ANSI colours when asked for, or when stdout is a terminal and NO_COLOR is unset."""
    return forced or (sys.stdout.isatty() and "NO_COLOR" not in os.environ)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stack",
        action="append",
        required=True,
        metavar="STACK",
        help="stack name: reads Pulumi.<stack>.yaml; repeat for several stacks",
    )
    parser.add_argument("--render", metavar="DIR", type=Path, help="also write every Kubernetes object as YAML to DIR")
    parser.add_argument(
        "--save", metavar="FILE", type=Path, help="write the plans of all stacks as one JSON document, secrets redacted"
    )
    parser.add_argument(
        "--diff",
        metavar="OLD.json",
        type=Path,
        help="compare with a plan written by --save: replacements first, then updates, creates, deletes, cost delta",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="markdown: one pull-request comment"
    )
    parser.add_argument("--color", action="store_true", help="ANSI colours even when stdout is not a terminal")
    parser.add_argument(
        "--policy-config",
        metavar="FILE",
        type=Path,
        help="policy pack config (pulumi --policy-pack-config format); default policies/config/<stack>.json if present",
    )
    parser.add_argument("--project-dir", type=Path, default=offline.PROJECT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    baseline = None
    if args.diff:
        try:
            baseline = plan_diff.load(args.diff)
        except plan_diff.PlanFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    captures: dict[str, Capture] = {}
    capacities: dict[str, list[str]] = {}
    plans: dict[str, plan_diff.StackPlan] = {}
    errors: dict[str, str] = {}
    for stack in dict.fromkeys(args.stack):
        try:
            capture = offline.run_stack(stack, args.project_dir)
        except FileNotFoundError as exc:
            errors[stack] = str(exc)
            print(f"error: {exc}", file=sys.stderr)
            continue
        except config.ConfigError as exc:  # a malformed stack file: one line, never a traceback
            errors[stack] = str(exc)
            print(f"stack '{stack}': {exc}", file=sys.stderr)
            continue
        except pulumi.RunError as exc:
            errors[stack] = str(exc)
            print(f"stack '{stack}': {exc}", file=sys.stderr)
            continue
        captures[stack] = capture
        config_map, _ = offline.read_stack_config(stack, args.project_dir)
        plans[stack] = plan_diff.snapshot(capture, _estimate(config_map, args.project_dir))
        capacities[stack] = _config_lines(config_map, args.project_dir)
    document = plan_diff.normalized(plan_diff.PlanDocument(stacks=plans))

    if args.save:
        plan_diff.save(document, args.save)
        print(f"Saved the plan of {len(plans)} stack(s) to {args.save}", file=sys.stderr)
    policy = _policy_reports(captures, args.policy_config)
    if policy is None:
        return EXIT_CONFIG
    if args.format == "markdown":
        diffs = plan_diff.diff_documents(document, baseline)
        print(plan_report.render_markdown(diffs, describe, args.diff.name if args.diff else None, errors))
    elif args.diff:
        color = _use_color(args.color)
        texts = [
            plan_report.render_text(d, describe, args.diff.name, color)
            for d in plan_diff.diff_documents(document, baseline)
        ]
        if texts:
            print("\n\n".join(texts))
    elif captures:
        texts = [
            render_text(stack, captures[stack], [*capacities[stack], *_cost_lines(plans[stack].cost), policy[stack][0]])
            for stack in captures
        ]
        print("\n\n".join(texts))
    if args.render:
        for stack, capture in captures.items():
            out_dir = args.render if len(captures) == 1 else args.render / stack
            written = render_manifests(capture, out_dir)
            # A markdown comment on stdout stays clean: the note goes to stderr then.
            note = sys.stderr if args.format == "markdown" else sys.stdout
            print(f"Rendered {len(written)} Kubernetes objects to {out_dir}/", file=note)
    if args.format == "markdown" or args.diff:
        # The plan text carries the findings before its summary; diffs and comments get them last.
        for stack, (report, _) in policy.items():
            title = f"stack '{stack}': " if len(policy) > 1 else ""
            print(
                f"\n#### {title}policy findings\n\n```\n{report}\n```"
                if args.format == "markdown"
                else f"\n{title}{report}"
            )
    blocking = any(b for _, b in policy.values())
    return EXIT_CONFIG if errors else (EXIT_POLICY if blocking else 0)


def _estimate(config_map: dict[str, str], project_dir: Path) -> cost.CostEstimate | None:
    """The cost estimate; None for a --project-dir project that is not this program (no config of ours)."""
    if offline.project_name(project_dir) != offline.project_name():
        return None
    return cost.estimate(plan_diff.stack_config_of(config_map))


def _config_lines(config_map: dict[str, str], project_dir: Path) -> list[str]:
    """What the plan says from the config alone: HPAs that hold their replicas in some pod state,
    and nodes per GPU pool at minimum and maximum scale with the models that need them."""
    if offline.project_name(project_dir) != offline.project_name():
        return []
    cfg = plan_diff.stack_config_of(config_map)
    out: list[str] = []
    for section in (
        ["HPAs that hold their replicas:", *h] if (h := signal_paths.hold_lines(cfg)) else [],
        capacity.render_lines(cfg),
    ):
        if section:
            out += [*section, ""]
    return out


def _cost_lines(estimate: cost.CostEstimate | None) -> list[str]:
    return [*cost.render_lines(estimate), ""] if estimate is not None else []


def _policy_reports(captures: dict[str, Capture], config_file: Path | None) -> dict[str, tuple[str, bool]] | None:
    """Each stack's policy report and whether a finding is MANDATORY; None on a bad policy config."""
    from tooling import policy_check

    out = {}
    for stack, capture in captures.items():
        try:
            findings, report = policy_check.check_stack(capture, stack, config_file)
        except policy_check.PolicyConfigError as exc:
            print(f"error: policy config: {exc}", file=sys.stderr)
            return None
        out[stack] = (report, bool(policy_check.mandatory(findings)))
    return out


if __name__ == "__main__":
    sys.exit(main())
