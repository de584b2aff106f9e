"""Saved offline plans and the diff between two of them.

A pull request from a fork gets no cloud credentials, so ``pulumi preview`` cannot run there;
the offline plan can. ``python -m tooling.plan --save plan.json`` writes what each stack would
register (inputs as the engine receives them, resource options, outputs, cost) with every
secret redacted, and ``--diff plan.json`` compares the current program against it: which
resources would be created, deleted, changed (property paths, old -> new) and — first, because
they destroy something — replaced.

Replacement is decided per property path from :data:`tooling.force_new.FORCE_NEW`, the fields the
providers mark as force-new (taken from the upstream schemas, cited there). Pulumi's ``ignoreChanges`` of the
new resource is honoured, as ``pulumi preview`` would.

The JSON document (``version: 1``)::

    {"version": 1, "generator": "...", "stacks": {"<stack>": {
        "resources": [{"urn", "type", "name", "custom", "parent", "provider", "protect",
                       "retain_on_delete", "deleted_with", "depends_on", "ignore_changes",
                       "inputs"}, ...],
        "outputs": {...}, "secret_outputs": [...],
        "cost": {"lines": [...], "unpriced": [...], "notes": [...], "price_date", "region"},
        "cost_totals": {"hourly_min", "hourly_max", "monthly_min", "monthly_max"}}}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pulumi.runtime import rpc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra import config as stack_config_module
from tooling.cost import CostEstimate
from tooling.force_new import covered, forces_replacement
from tooling.offline import SECRET_PLACEHOLDER, Capture, Captured

FORMAT_VERSION = 1
GENERATOR = "gke-gpu-serving offline plan (python -m tooling.plan)"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SavedResource(_Frozen):
    urn: str
    type: str
    name: str
    custom: bool
    parent: str = ""
    provider: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    deleted_with: str = ""
    depends_on: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    inputs: dict[str, Any] = Field(default_factory=dict)

    def as_captured(self) -> Captured:
        """The same record as the live capture type, so one ``highlights()`` serves both."""
        return Captured(**{name: getattr(self, name) for name in Captured.__dataclass_fields__})


class StackPlan(_Frozen):
    resources: tuple[SavedResource, ...]
    outputs: dict[str, Any] = Field(default_factory=dict)
    secret_outputs: tuple[str, ...] = ()
    cost: CostEstimate | None = None
    # Informational copy of the cost totals for readers of the JSON; recomputed from `cost`.
    cost_totals: dict[str, float] = Field(default_factory=dict)

    def by_urn(self) -> dict[str, SavedResource]:
        return {r.urn: r for r in self.resources}


class PlanDocument(_Frozen):
    version: Literal[1] = FORMAT_VERSION
    generator: str = GENERATOR
    stacks: dict[str, StackPlan]


def redact(value: Any) -> Any:
    """``value`` with every Pulumi secret (the engine's secret envelope) replaced by a placeholder."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET_PLACEHOLDER
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def redact_inputs(res: Captured) -> dict[str, Any]:
    """A resource's inputs with secrets redacted; a Kubernetes Secret keeps only its keys."""
    inputs = redact(res.inputs)
    if res.type == "kubernetes:core/v1:Secret":
        for key in ("data", "stringData"):
            if isinstance(inputs.get(key), dict):
                inputs[key] = {k: SECRET_PLACEHOLDER for k in inputs[key]}
    return inputs


def snapshot(capture: Capture, cost: CostEstimate | None) -> StackPlan:
    """What one stack run registered and exported, ready to save: secrets redacted."""
    resources = tuple(
        SavedResource(
            urn=r.urn,
            type=r.type,
            name=r.name,
            custom=r.custom,
            parent=r.parent,
            provider=r.provider,
            protect=r.protect,
            retain_on_delete=r.retain_on_delete,
            deleted_with=r.deleted_with,
            depends_on=r.depends_on,
            ignore_changes=r.ignore_changes,
            inputs=redact_inputs(r),
        )
        for r in capture.resources
    )
    outputs = {
        k: (SECRET_PLACEHOLDER if k in capture.secret_outputs else redact(v)) for k, v in capture.outputs.items()
    }
    totals = {}
    if cost is not None:
        totals = {
            "hourly_min": cost.hourly_min,
            "hourly_max": cost.hourly_max,
            "monthly_min": cost.monthly_min,
            "monthly_max": cost.monthly_max,
        }
    return StackPlan(
        resources=resources,
        outputs=outputs,
        secret_outputs=tuple(sorted(capture.secret_outputs)),
        cost=cost,
        cost_totals=totals,
    )


def dumps(doc: PlanDocument) -> str:
    return json.dumps(doc.model_dump(mode="json", fallback=str), indent=1, default=str) + "\n"


def normalized(doc: PlanDocument) -> PlanDocument:
    """``doc`` as it reads back from disk, so a live plan and a saved one compare like for like."""
    return PlanDocument.model_validate_json(dumps(doc))


def save(doc: PlanDocument, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(doc))


class PlanFileError(Exception):
    """A saved plan that cannot be read; the message says which file and why."""


def load(path: Path) -> PlanDocument:
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise PlanFileError(f"cannot read saved plan {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{path} is not JSON ({exc}); write it with --save") from None
    if not isinstance(raw, dict) or raw.get("version") != FORMAT_VERSION:
        found = raw.get("version") if isinstance(raw, dict) else type(raw).__name__
        raise PlanFileError(f"{path}: saved plan version {found!r}, this tool reads version {FORMAT_VERSION}")
    try:
        return PlanDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanFileError(f"{path}: not a saved plan ({where}: {first['msg']})") from None


def stack_config_of(config_map: dict[str, str]) -> stack_config_module.StackConfig:
    """The validated config from ``ns:key`` strings, as ``infra.config.load()`` would build it."""
    raw: dict[str, Any] = {}
    for full_key, value in config_map.items():
        ns, _, key = full_key.partition(":")
        if ns == stack_config_module.NAMESPACE or (ns == "gcp" and key in stack_config_module.GCP_KEYS):
            raw[key] = stack_config_module.decode_value(value)
    return stack_config_module.parse(raw)


# --- The diff ----------------------------------------------------------------------------------

_ABSENT: Any = object()


class PropertyChange(_Frozen):
    path: str
    old: Any = None
    new: Any = None
    old_present: bool = True
    new_present: bool = True
    replaces: bool = False


Operation = Literal["replace", "update", "create", "delete"]


class ResourceChange(_Frozen):
    op: Operation
    resource: SavedResource
    changes: tuple[PropertyChange, ...] = ()

    @property
    def replacing_paths(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes if c.replaces)


Baseline = Literal["saved", "missing", "none"]


class StackDiff(_Frozen):
    """One stack's changes; ``baseline`` says what it was compared with.

    ``saved``: the stack's entry in the saved plan. ``missing``: the saved plan has no such
    stack, so everything is new. ``none``: no saved plan was given (a plain plan).
    """

    stack: str
    baseline: Baseline
    changes: tuple[ResourceChange, ...]
    cost_old: CostEstimate | None = None
    cost_new: CostEstimate | None = None

    def of(self, op: Operation) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.op == op)

    def count(self, op: Operation) -> int:
        return len(self.of(op))

    @property
    def monthly_delta(self) -> tuple[float, float] | None:
        """(min, max) monthly change against the baseline; None without one."""
        if self.baseline == "none" or self.cost_new is None:
            return None
        old_min = self.cost_old.monthly_min if self.cost_old else 0.0
        old_max = self.cost_old.monthly_max if self.cost_old else 0.0
        return round(self.cost_new.monthly_min - old_min, 2), round(self.cost_new.monthly_max - old_max, 2)


def _key_segment(key: str) -> str:
    return f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f'["{key}"]'


def property_changes(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Leaf-level differences between two input trees as ``(path, old, new)``.

    Paths use Pulumi's property-path form (``spec.template.metadata.labels["app.kubernetes.io/name"]``,
    ``nodeConfig.guestAccelerators[0].type``); a side that lacks the value is ``_ABSENT``.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from property_changes(
                old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}{_key_segment(str(key))}".lstrip(".")
            )
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from property_changes(
                old[i] if i < len(old) else _ABSENT, new[i] if i < len(new) else _ABSENT, f"{path}[{i}]"
            )
    elif old != new or type(old) is not type(new):
        yield path, old, new


_OPTION_FIELDS = (("protect", "protect"), ("retain_on_delete", "retainOnDelete"), ("deleted_with", "deletedWith"))


def resource_changes(old: SavedResource, new: SavedResource) -> tuple[PropertyChange, ...]:
    """Input and option changes from ``old`` to ``new``, honouring the new ``ignoreChanges``."""
    out = []
    for path, before, after in property_changes(old.inputs, new.inputs):
        if covered(path, new.ignore_changes):
            continue
        out.append(
            PropertyChange(
                path=path,
                old=None if before is _ABSENT else before,
                new=None if after is _ABSENT else after,
                old_present=before is not _ABSENT,
                new_present=after is not _ABSENT,
                replaces=forces_replacement(new.type, path),
            )
        )
    for attr, label in _OPTION_FIELDS:
        before, after = getattr(old, attr), getattr(new, attr)
        if before != after:
            out.append(PropertyChange(path=f"[options].{label}", old=before, new=after))
    # Replacing paths first, so a reader sees why before what.
    return tuple(sorted(out, key=lambda c: not c.replaces))


_OP_ORDER = {"replace": 0, "update": 1, "create": 2, "delete": 3}


def diff_stack(
    stack: str,
    new: StackPlan,
    old: StackPlan | None,
    baseline: Baseline,
) -> StackDiff:
    """What applying ``new`` over ``old`` would do, resource by resource (matched by URN).

    Only custom resources count as changes; component resources are groupings.
    """
    old_by = old.by_urn() if old is not None else {}
    new_by = new.by_urn()
    changes: list[ResourceChange] = []
    for urn, res in new_by.items():
        if not res.custom:
            continue
        before = old_by.get(urn)
        if before is None:
            changes.append(ResourceChange(op="create", resource=res))
            continue
        props = resource_changes(before, res)
        if props:
            op: Operation = "replace" if any(c.replaces for c in props) else "update"
            changes.append(ResourceChange(op=op, resource=res, changes=props))
    for urn, res in old_by.items():
        if res.custom and urn not in new_by:
            changes.append(ResourceChange(op="delete", resource=res))
    changes.sort(key=lambda c: _OP_ORDER[c.op])
    return StackDiff(
        stack=stack,
        baseline=baseline,
        changes=tuple(changes),
        cost_old=old.cost if old is not None else None,
        cost_new=new.cost,
    )


def diff_documents(new: PlanDocument, old: PlanDocument | None) -> list[StackDiff]:
    """One :class:`StackDiff` per stack of ``new``; a stack ``old`` lacks shows as all-new."""
    out = []
    for stack, plan in new.stacks.items():
        if old is None:
            out.append(diff_stack(stack, plan, None, "none"))
        elif stack in old.stacks:
            out.append(diff_stack(stack, plan, old.stacks[stack], "saved"))
        else:
            out.append(diff_stack(stack, plan, None, "missing"))
    return out


__all__ = [
    "FORMAT_VERSION",
    "PlanDocument",
    "PlanFileError",
    "PropertyChange",
    "ResourceChange",
    "SavedResource",
    "StackDiff",
    "StackPlan",
    "diff_documents",
    "diff_stack",
    "load",
    "normalized",
    "property_changes",
    "redact",
    "save",
    "snapshot",
    "stack_config_of",
]
