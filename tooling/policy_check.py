"""Run the CrossGuard pack's own rules over an offline capture: the policy answer without the CLI.

``pulumi preview --policy-pack policies`` hands each resource to the pack's analyzer, which turns
the engine's protobuf ``Struct`` into Python (numbers become floats), wraps it in pulumi-policy's
unknown-checking proxy, builds ``ResourceValidationArgs`` / ``StackValidationArgs`` and calls each
policy's ``validate``. :func:`evaluate` does the same with the resources :mod:`tooling.offline`
captured, through the same pulumi-policy code (``deserialize_properties``,
``unknown_checking_proxy``, the real args classes), so a rule sees here what it sees under the CLI.

Policy config follows ``pulumi preview --policy-pack-config FILE`` (pulumi
``pkg/resource/analyzer/config.go``): defaults from each rule's config schema, then ``"all"``
(an enforcement level for every rule), then per rule either an enforcement level string or an
object with ``enforcementLevel`` and properties, merged over the defaults property by property.
Offline, a rule name or property the pack does not have is an error (the CLI would ignore a
misspelt property silently).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from tooling.offline import PROJECT_DIR, Capture, Captured

POLICY_DIR = PROJECT_DIR / "policies"
CONFIG_DIR = POLICY_DIR / "config"
LEVELS = {level.value: level for level in EnforcementLevel}
# Order of the report: what blocks a deployment first.
REPORT_ORDER = (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
# JSON-schema "type" of a config property -> test of a parsed JSON value.
_JSON_TYPES = {
    "integer": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class PolicyConfigError(ValueError):
    """A policy config file the pack cannot use; the message says which key and why."""


@dataclass(frozen=True)
class Finding:
    """One violation: which rule, how binding, on what, and why."""

    policy: str
    level: EnforcementLevel
    resource: str
    type: str
    urn: str
    message: str

    def line(self) -> str:
        return f"[{self.policy}] {self.type.rsplit(':', 1)[-1]} {self.resource}: {self.message}"


@dataclass(frozen=True)
class RuleConfig:
    level: EnforcementLevel
    properties: Mapping[str, Any]


def load_policies() -> list[Policy]:
    """The pack's rules, exactly the list ``policies/__main__.py`` assembles."""
    from policies.rules import POLICIES

    return list(POLICIES)


def default_config_path(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
    return doc


def _level(value: Any, where: str) -> EnforcementLevel:
    if value not in LEVELS:
        raise PolicyConfigError(f"{where}: {value!r} is not an enforcement level ({', '.join(LEVELS)})")
    return LEVELS[value]


def resolve_config(policies: Sequence[Policy], given: Mapping[str, Any] | None = None) -> dict[str, RuleConfig]:
    """Each rule's enforcement level and properties, as the CLI reconciles them."""
    resolved = {}
    for p in policies:
        schema = p.config_schema.properties if p.config_schema else {}
        props = {k: spec["default"] for k, spec in schema.items() if "default" in spec}
        resolved[p.name] = RuleConfig(p.enforcement_level or EnforcementLevel.ADVISORY, props)
    given = dict(given or {})
    if "all" in given:
        level = _level(given.pop("all"), "all")
        resolved = {k: RuleConfig(level, v.properties) for k, v in resolved.items()}
    for name, value in given.items():
        if name not in resolved:
            raise PolicyConfigError(f"{name}: no such policy in the pack ({len(resolved)} policies)")
        current = resolved[name]
        if isinstance(value, str):
            resolved[name] = RuleConfig(_level(value, name), current.properties)
            continue
        if not isinstance(value, dict):
            raise PolicyConfigError(f"{name}: must be an enforcement level or an object")
        settings = dict(value)
        level = _level(settings.pop("enforcementLevel"), name) if "enforcementLevel" in settings else current.level
        policy = next(p for p in policies if p.name == name)
        known = set(policy.config_schema.properties) if policy.config_schema else set()
        for key, setting in settings.items():
            if key not in known:
                raise PolicyConfigError(
                    f"{name}.{key}: not a setting of this policy (settings: {', '.join(sorted(known)) or 'none'})"
                )
            expected = policy.config_schema.properties[key].get("type")
            if expected in _JSON_TYPES and not _JSON_TYPES[expected](setting):
                raise PolicyConfigError(f"{name}.{key}: {setting!r} is not of type {expected}")
        resolved[name] = RuleConfig(level, {**current.properties, **settings})
    return resolved


def engine_view(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """``value`` as the analyzer receives it: through a protobuf ``Struct`` (floats), unknown-checked."""
    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _options(res: Captured) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=res.protect,
        ignore_changes=list(res.ignore_changes),
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=res.parent or None,
    )


def _config_view(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    """Config as ``Configure`` passes it: a ``Struct`` turned back into a dict (numbers as floats)."""
    struct = struct_pb2.Struct()
    struct.update(dict(properties))
    return json_format.MessageToDict(struct)


def evaluate(capture: Capture, config: Mapping[str, Any] | None = None) -> list[Finding]:
    """Every violation the pack reports for ``capture``, in rule order then resource order."""
    policies = load_policies()
    resolved = resolve_config(policies, config)
    views = {r.urn: engine_view(r.inputs) for r in capture.resources}
    findings: list[Finding] = []

    def reporter(policy: Policy, level: EnforcementLevel, res: Captured | None):
        def report(message: str, urn: str | None = None) -> None:
            target = capture.by_urn(urn) if urn else res
            findings.append(
                Finding(
                    policy=policy.name,
                    level=level,
                    resource=target.name if target else "(stack)",
                    type=target.type if target else "pulumi:pulumi:Stack",
                    urn=target.urn if target else "",
                    message=message,
                )
            )

        return report

    for policy in policies:
        rc = resolved[policy.name]
        if rc.level == EnforcementLevel.DISABLED:
            continue
        settings = _config_view(rc.properties)
        if isinstance(policy, ResourceValidationPolicy):
            for res in capture.resources:
                args = ResourceValidationArgs(
                    res.type, views[res.urn], res.urn, res.name, _options(res), None, settings, {}
                )
                try:
                    policy.validate(args, reporter(policy, rc.level, res))
                except UnknownValueError:
                    continue  # the analyzer reports these as "can't run during preview", never a violation
        elif isinstance(policy, StackValidationPolicy):
            resources = [
                PolicyResource(r.type, views[r.urn], r.urn, r.name, _options(r), None, None, [], {})
                for r in capture.resources
            ]
            by_urn = {r.urn: r for r in resources}
            for r, res in zip(resources, capture.resources, strict=True):
                r.parent = by_urn.get(res.parent)
                r.dependencies = [by_urn[d] for d in res.depends_on if d in by_urn]
            try:
                policy.validate(StackValidationArgs(resources, settings, {}), reporter(policy, rc.level, None))
            except UnknownValueError:
                continue
    return findings


def mandatory(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == EnforcementLevel.MANDATORY]


def render(findings: Sequence[Finding], checked: int, source: str) -> str:
    """The plan's "Policy findings" section: one line per violation, grouped by enforcement level."""
    head = f"Policy findings (pack policies/, {checked} policies, config: {source}):"
    if not findings:
        return f"{head} none"
    lines = [head]
    for level in REPORT_ORDER:
        group = [f for f in findings if f.level == level]
        if group:
            lines.append(f"  {level.value} ({len(group)}):")
            lines.extend(f"    {f.line()}" for f in group)
    return "\n".join(lines)


def check_stack(capture: Capture, stack: str, config_file: Path | None = None) -> tuple[list[Finding], str]:
    """Findings for a planned stack and the report text; the config file defaults to ``policies/config/<stack>.json``."""
    path = config_file or default_config_path(stack)
    if config_file is not None and not path.exists():
        raise PolicyConfigError(f"{path}: no such policy config file")
    config = read_config_file(path) if path.exists() else {}
    source = str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)
    findings = evaluate(capture, config)
    return findings, render(findings, len(load_policies()), source if path.exists() else "rule defaults")


__all__ = [
    "Finding",
    "PolicyConfigError",
    "check_stack",
    "engine_view",
    "evaluate",
    "load_policies",
    "mandatory",
    "read_config_file",
    "render",
    "resolve_config",
]
