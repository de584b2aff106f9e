"""Custom resources checked against their real CustomResourceDefinitions (tests/fixtures/crds/).

What the API server does on create, as far as it can be done offline:

- the ``openAPIV3Schema`` of the served version, with unknown fields failing where the API server
  would silently prune them (a pruned field is a setting that never takes effect), and
  ``x-kubernetes-int-or-string`` read as integer or string;
- every ``x-kubernetes-validations`` CEL rule whose value is present (transition rules, which
  read ``oldSelf``, apply to updates only and are left out), evaluated with the
  ``common-expression-language`` package (cel-rust; like Kubernetes' cel-go it compares values of
  different types as unequal, which int-or-string rules such as ``self != 0`` rely on), plus
  ``isURL``, the one function of Kubernetes' CEL libraries these CRDs call. A rule that cannot
  be evaluated is reported, never skipped.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cel
import jsonschema
import yaml

CRD_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "crds"
# The latest releases of the CRDs a cluster may hold instead of the pinned ones (GKE upgrades the
# Gateway API and InferencePool CRDs it manages): every object must be valid under both.
LATEST_DIR = CRD_DIR / "latest"


@cache
def _crds(directory: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of that served version, from ``directory``.

    A CRD that has no public YAML is kept as the JSON Schema of its ``openAPIV3Schema``, named
    ``<group>_<version>_<Kind>.json`` (SOURCES.md says where each comes from)."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        group, version, kind = path.stem.split("_")
        out[(f"{group}/{version}", kind)] = json.loads(path.read_text())
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = version["schema"][
                        "openAPIV3Schema"
                    ]
    return out


def known(api_version: str, kind: str, directory: Path = CRD_DIR) -> bool:
    return (api_version, kind) in _crds(directory)


def _strict(node: Any) -> Any:
    """The schema with pruning turned into failure and Kubernetes' int-or-string spelled out."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    if out.get("nullable"):
        kinds = out.get("type")
        out["type"] = [*(kinds if isinstance(kinds, list) else [kinds]), "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields")
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def _is_url(value: Any) -> bool:
    """Kubernetes' CEL URL library ``isURL``: an absolute URL (scheme and host)."""
    parsed = urlparse(str(value))
    return bool(parsed.scheme and parsed.netloc)


_DURATION_PART = re.compile(r"([0-9.]+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_536_000}


def _duration(text: str) -> datetime.timedelta:
    """A Prometheus / Go duration string (``30s``, ``1m30s``) as a timedelta."""
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(f"{text!r} is not a duration")
    return datetime.timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text)))


def _typed(node: dict, value: Any) -> Any:
    """``value`` as CEL sees it in Kubernetes: a ``format: duration`` string is a duration."""
    if isinstance(value, str) and node.get("format") == "duration":
        return _duration(value)
    if isinstance(value, dict):
        props = node.get("properties") or {}
        return {k: _typed(props[k], v) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and "items" in node:
        return [_typed(node["items"], v) for v in value]
    return value


def _cel_errors(node: dict, value: Any, where: str, out: list[str]) -> None:
    for rule in node.get("x-kubernetes-validations", ()):
        if re.search(r"\boldSelf\b", rule["rule"]):
            # A transition rule: the API server evaluates it on update only, when an old value
            # exists (Kubernetes, CRD validation rules, "Transition rules"); these checks are creates.
            continue
        context = cel.Context()
        context.add_function("isURL", _is_url)
        context.add_variable("self", _typed(node, value))
        try:
            ok = cel.evaluate(rule["rule"], context)
        except Exception as exc:
            out.append(f"{where}: CEL rule {rule['rule']!r} could not be evaluated ({type(exc).__name__}: {exc})")
            continue
        if not bool(ok):
            out.append(f"{where}: CEL rule {rule['rule']!r} is false ({rule.get('message', 'no message')})")
    if isinstance(value, dict):
        for key, item in value.items():
            prop = (node.get("properties") or {}).get(key)
            if prop is not None:
                _cel_errors(prop, item, f"{where}.{key}", out)
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            _cel_errors(node["items"], item, f"{where}[{i}]", out)


def _defaulted(node: dict, value: Any) -> Any:
    """``value`` with the schema's ``default``s filled in, as the API server does before validating."""
    if isinstance(value, dict):
        out = dict(value)
        for key, prop in (node.get("properties") or {}).items():
            if key not in out and "default" in prop:
                out[key] = copy.deepcopy(prop["default"])
            if key in out:
                out[key] = _defaulted(prop, out[key])
        return out
    if isinstance(value, list) and "items" in node:
        return [_defaulted(node["items"], v) for v in value]
    return value


def errors(obj: dict[str, Any], directory: Path = CRD_DIR) -> list[str]:
    """Every way ``obj`` (a manifest with apiVersion and kind) breaks its CRD in ``directory``; empty:
    it is accepted."""
    schema = _crds(directory)[(obj["apiVersion"], obj["kind"])]
    obj = _defaulted(schema, obj)
    found = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in jsonschema.Draft7Validator(_strict(copy.deepcopy(schema))).iter_errors(obj)
    ]
    _cel_errors(schema, obj, obj["kind"], found)
    return found
