"""Reading engine properties safely: unknown preview values, numbers as floats, environments.

What a rule receives is not a plain ``dict``. The pulumi-policy analyzer
(``pulumi_policy/policy.py`` ``Analyze``) deserializes the engine's protobuf ``Struct`` (so every
number is a ``float``) and wraps it in ``unknown_checking_proxy`` (``pulumi_policy/proxy.py``): a
``Mapping``/``Sequence`` proxy that raises ``UnknownValueError`` when code touches a value the
engine cannot know during ``pulumi preview`` (an ID, an email, anything computed from another
resource's output). Left alone, that exception makes the analyzer report "can't run policy ...
during preview" instead of running the rule.

Every rule therefore reads through :func:`get`, :func:`elements` and :func:`entries`, which turn an
unknown into the :data:`UNKNOWN` marker, and decides per check: an unknown value is never a
violation (``pulumi up`` runs the policies again once the value is known). ``isinstance(x, dict)``
is always false on the proxy, so shape checks here use ``Mapping``/``Sequence``.

This module imports nothing from ``infra/``: the pack runs from ``policies/`` in its own
virtualenv (``PulumiPolicy.yaml``) and must be self-contained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

# The sentinels the engine sends for values unknown at preview (pulumi_policy/proxy.py).
_SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)

# Labels infra/naming.py puts on every resource: gcp_labels() -> "environment" on GCP labels /
# resourceLabels, k8s_labels() -> "gke-gpu-serving/environment" on Kubernetes objects.
GCP_ENV_LABEL = "environment"
K8S_ENV_LABEL = "gke-gpu-serving/environment"
# A resource without the label is judged as this environment: a guard that cannot tell where
# a resource runs keeps the strictest reading instead of waving it through.
UNLABELLED_ENVIRONMENT = "prod"


class _Unknown:
    """Marker for a value the engine does not know yet (preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """The value at ``path``; :data:`UNKNOWN` if any step is unknown; ``default`` if absent or null."""
    cur = obj
    try:
        for key in path:
            if is_unknown(cur):
                return UNKNOWN
            if isinstance(key, int):
                if not _is_seq(cur) or not -len(cur) <= key < len(cur):
                    return default
            elif not isinstance(cur, Mapping) or key not in cur:
                return default
            cur = cur[key]
    except UnknownValueError:
        return UNKNOWN
    if is_unknown(cur):
        return UNKNOWN
    return default if cur is None else cur


def elements(obj: Any, *path: str | int) -> list[Any] | Any:
    """The list at ``path`` (``[]`` when absent), each unknown element as :data:`UNKNOWN`.

    Returns :data:`UNKNOWN` when the list itself is unknown.
    """
    seq = get(obj, *path)
    if seq is UNKNOWN:
        return UNKNOWN
    if not _is_seq(seq):
        return []
    return [get(seq, i) for i in range(len(seq))]


def entries(obj: Any, *path: str | int) -> dict[str, Any] | Any:
    """The mapping at ``path`` as a plain dict (``{}`` when absent), unknown values as :data:`UNKNOWN`."""
    mapping = get(obj, *path)
    if mapping is UNKNOWN:
        return UNKNOWN
    if not isinstance(mapping, Mapping):
        return {}
    return {key: get(mapping, key) for key in list(mapping)}


def number(value: Any) -> int | float | Any:
    """A number as the engine sends it (always a float) back to an int when integral."""
    if value is UNKNOWN or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return int(value) if float(value).is_integer() else value


def gcp_environment(props: Any, *label_path: str) -> str | Any:
    """The ``environment`` label at ``label_path`` (e.g. ``"labels"``), or the unlabelled default."""
    labels = get(props, *label_path)
    if labels is UNKNOWN:
        return UNKNOWN
    value = get(labels, GCP_ENV_LABEL)
    return UNLABELLED_ENVIRONMENT if value is None else value


def k8s_environment(props: Any) -> str | Any:
    """``gke-gpu-serving/environment`` of a Kubernetes object (its own labels, else its pod template's)."""
    for path in (("metadata", "labels"), ("spec", "template", "metadata", "labels")):
        value = get(props, *path, K8S_ENV_LABEL)
        if value is not None:
            return value
    return UNLABELLED_ENVIRONMENT


def in_scope(environment: Any, environments: Iterable[str]) -> bool:
    """True when a known ``environment`` is one of ``environments`` (unknown is never in scope)."""
    return environment is not UNKNOWN and environment in set(environments)


# The label an operator sets to opt a prod object in to an external load balancer (Services and
# Gateways share it; each rule's ``optInLabel`` config defaults to it).
OPT_IN_LABEL = "gke-gpu-serving/public-load-balancer"


def opted_in(props: Any, label: str) -> bool:
    """The object carries ``label: "true"``, or its labels are not known yet (preview)."""
    value = get(props, "metadata", "labels", label)
    return value is UNKNOWN or value == "true"


# Kubernetes quantities ------------------------------------------------------------------------

_SUFFIXES = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``500m``, ``16Gi``, ``2``) in base units; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            head = text[: -len(suffix)]
            break
    else:
        suffix, head = "", text
    try:
        return float(head) * _SUFFIXES[suffix]
    except ValueError:
        return None


# Building policies ----------------------------------------------------------------------------

Check = Callable[[Any, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Any], Mapping[str, Any]], Iterable[tuple[str, str | None]]]


def defaults(schema: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    """The ``default`` of every config property, as the CLI fills them in before ``Configure``."""
    return {key: spec["default"] for key, spec in (schema or {}).items() if "default" in spec}


def resource_policy(
    *,
    name: str,
    description: str,
    types: Iterable[str] | Callable[[str], bool],
    check: Check,
    level: EnforcementLevel = EnforcementLevel.ADVISORY,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """A ``ResourceValidationPolicy`` that runs the pure ``check(props, config)`` on ``types``.

    ``check`` yields one message per violation. Config is the schema defaults overlaid with what
    the operator configured (the engine already merges them; tests and the offline plan may not).
    """
    applies = types if callable(types) else frozenset(types).__contains__
    base = defaults(config)

    def validate(args: ResourceValidationArgs, report_violation) -> None:
        if not applies(args.resource_type):
            return
        settings = {**base, **(args.get_config() or {})}
        for message in check(args.props, settings):
            report_violation(message, None)

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=dict(config)) if config else None,
    )
    policy.check = check  # the pure function, for direct tests
    return policy


def stack_policy(
    *,
    name: str,
    description: str,
    check: StackCheck,
    level: EnforcementLevel = EnforcementLevel.ADVISORY,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> StackValidationPolicy:
    """A ``StackValidationPolicy`` running ``check(resources, config)``, which yields ``(message, urn)``."""
    base = defaults(config)

    def validate(args: StackValidationArgs, report_violation) -> None:
        settings = {**base, **(args.get_config() or {})}
        for message, urn in check(args.resources, settings):
            report_violation(message, urn)

    policy = StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=dict(config)) if config else None,
    )
    policy.check = check
    return policy


def environments_config(default: list[str], what: str) -> dict[str, Any]:
    """The ``environments`` config property shared by environment-scoped rules."""
    return {
        "type": "array",
        "items": {"type": "string"},
        "default": default,
        "description": f"Environments (the resource's environment label) {what}.",
    }
