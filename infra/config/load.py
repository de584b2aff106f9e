"""Reading and reporting: the stack file, the Pulumi config of a running program, and
:class:`ConfigError`, one line per problem naming the key path, the bad value and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infra.config.base import GCP_KEYS, NAMESPACE
from infra.config.stack import StackConfig

# Loading and error reporting -------------------------------------------------------------------


class ConfigError(Exception):
    """A configuration that breaks one or more rules. ``str()`` is one line per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


# pydantic error kinds of a value of the wrong shape -> what the key must be instead.
_SHAPE_ERRORS = {
    "model_type": "not a mapping: write its settings as a YAML mapping (key: value lines indented below it)",
    "dict_type": "not a mapping: write it as a YAML mapping (key: value lines indented below it)",
    "list_type": "not a list: write it as a YAML sequence (one '- item' line per entry)",
    "tuple_type": "not a list: write it as a YAML sequence (one '- item' line per entry)",
}


def _yaml_kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def read_stack_file(path: Path) -> dict[str, Any]:
    """A parsed ``Pulumi.<stack>.yaml``; a malformed one is one :class:`ConfigError` line naming the
    file, the line or key, and the fix, never a traceback."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark, start = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if start is not None and getattr(exc, "context", None):
            what += f", {exc.context} begun on line {start.line + 1}"
        raise ConfigError([f"{path.name}{where}: YAML syntax error ({what}); fix the YAML there"]) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(
            [f"{path.name}: is a YAML {_yaml_kind(doc)}, not a mapping; a stack file is a mapping with a config: key"]
        )
    config = doc.get("config")
    if config is not None and not isinstance(config, dict):
        raise ConfigError(
            [
                f"{path.name}: config: is a {_yaml_kind(config)}, not a mapping; write one 'namespace:key: value' line per key below it"
            ]
        )
    return doc


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("gpuPools", 0, "machineType")`` -> ``gke-gpu-serving:gpuPools[0].machineType``."""
    if not loc:
        return f"{NAMESPACE}:<root>"
    head, *rest = loc
    out = f"gcp:{head}" if head in GCP_KEYS else f"{NAMESPACE}:{head}"
    for part in rest:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _line(path: tuple, value: Any, message: str) -> str:
    shown = "not set" if value is None else json.dumps(value, default=str)
    return f"{key_path(path)} = {shown}: {message}"


def format_errors(exc: ValidationError) -> list[str]:
    """One readable line per pydantic error (no traceback, no pydantic URL)."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "stack_rules":
            # Rules run on the root model; each problem carries its own path.
            prefix = loc
            for p in err["ctx"]["problems"]:
                lines.append(_line((*prefix, *p.path), p.value, p.message))
            continue
        value = err.get("input")
        if kind == "extra_forbidden":
            lines.append(
                f"{key_path(loc)}: unknown key; remove it or fix its spelling (see the config reference in README.md)"
            )
        elif kind == "missing":
            lines.append(f"{key_path(loc)}: required key is not set; add it to Pulumi.<stack>.yaml")
        elif kind in _SHAPE_ERRORS:
            lines.append(
                f"{key_path(loc)} = {json.dumps(value, default=str)}: is a {_yaml_kind(value)}, {_SHAPE_ERRORS[kind]} "
                "(see the config reference in README.md)"
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(_line(loc, value if not isinstance(value, dict) else None, msg))
    return lines


def parse(raw: dict[str, Any]) -> StackConfig:
    """Validate a raw config tree (top-level keys without namespace) into a :class:`StackConfig`."""
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def raw_from_pulumi() -> dict[str, Any]:
    """Every ``gke-gpu-serving:*`` key, plus ``gcp:project`` and ``gcp:region``, from Pulumi config.

    Unknown keys are kept, so the model rejects them by name instead of ignoring a typo.
    """
    from pulumi.runtime import config as runtime_config

    values: dict[str, Any] = {}
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for full_key, value in merged.items():
        ns, _, key = full_key.partition(":")
        if ns == NAMESPACE or (ns == "gcp" and key in GCP_KEYS):
            values[key] = decode_value(value)
    return values


def decode_value(value: Any) -> Any:
    """A config value as the engine passes it (a string; JSON for structures) back to data."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "[") or stripped in ("true", "false"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def load() -> StackConfig:
    """Read and validate the stack config from the running Pulumi program."""
    return parse(raw_from_pulumi())
