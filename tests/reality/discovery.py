"""Google's own API definitions, offline: the Discovery documents that ``google-api-python-client``
ships (``googleapiclient/discovery_cache/documents/<api>.<version>.json``), pinned in
requirements-dev.txt.

:func:`errors` checks a value against one schema of one document the way the API's JSON
mapping reads it: an unknown field, a field of the wrong shape, a value outside an ``enum``, an
output-only field or a malformed ``google-duration`` is an error. Deprecated fields are reported
apart (:func:`deprecations`), so a test can allow exactly the ones the provider gives no other
way to set. The package is located without importing it (it is only data here).
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

DURATION = re.compile(r"^-?[0-9]+(\.[0-9]{1,9})?s$")
INT64_FORMATS = ("int64", "uint64")


def documents_dir() -> Path:
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or spec.origin is None:
        raise RuntimeError("google-api-python-client is not installed: pip install -r requirements-dev.txt")
    return Path(spec.origin).parent / "discovery_cache" / "documents"


@cache
def document(name: str) -> dict[str, Any]:
    """One Discovery document, e.g. ``monitoring.v1``."""
    return json.loads((documents_dir() / f"{name}.json").read_text())


@cache
def api_hosts() -> frozenset[str]:
    """The service names (``container.googleapis.com``) of every API with a Discovery document."""
    hosts = set()
    for path in documents_dir().glob("*.json"):
        try:
            root = json.loads(path.read_text()).get("rootUrl")
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if root:
            hosts.add(urlparse(root).hostname)
    return frozenset(hosts)


def revision(name: str) -> str:
    return document(name)["revision"]


def _deref(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["schemas"][node["$ref"]]
    return node


def field(doc_name: str, schema: str, path: str) -> dict[str, Any]:
    """The schema node of ``path`` (``a.b[].c``) under ``schema``; KeyError names the missing step."""
    doc = document(doc_name)
    node = _deref(doc, doc["schemas"][schema])
    for step in path.split("."):
        name, arrays = step.rstrip("[]"), step.count("[]")
        props = node.get("properties", {})
        if name not in props:
            raise KeyError(f"{doc_name} {schema}: no field {name!r} on the way to {path!r}")
        node = _deref(doc, props[name])
        for _ in range(arrays):
            node = _deref(doc, node["items"])
    return node


def enum(doc_name: str, schema: str, path: str) -> tuple[str, ...]:
    return tuple(field(doc_name, schema, path)["enum"])


def _root(doc_name: str, schema: str, at: str | None) -> dict[str, Any]:
    doc = document(doc_name)
    return field(doc_name, schema, at) if at else doc["schemas"][schema]


def errors(doc_name: str, schema: str, value: Any, at: str | None = None) -> list[str]:
    """Every way ``value`` breaks ``schema`` (or its field ``at``) of ``doc_name``; empty: it conforms."""
    out: list[str] = []
    where = f"{schema}.{at}" if at else schema
    _check(document(doc_name), _root(doc_name, schema, at), value, where, out, [])
    return out


def deprecations(doc_name: str, schema: str, value: Any, at: str | None = None) -> list[str]:
    """The deprecated fields (and deprecated enum values) ``value`` sets, as ``Schema.path``."""
    found: list[str] = []
    where = f"{schema}.{at}" if at else schema
    _check(document(doc_name), _root(doc_name, schema, at), value, where, [], found)
    return found


def _check(doc: dict, node: dict, value: Any, where: str, out: list[str], deprecated: list[str]) -> None:
    node = _deref(doc, node)
    kind = node.get("type")
    if kind == "any":
        return
    if kind == "object" or "properties" in node or "additionalProperties" in node:
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object, got {value!r}")
            return
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                prop = props[key]
                if prop.get("readOnly"):
                    out.append(f"{where}.{key}: output only; it is not an input of {node.get('id', where)}")
                if prop.get("deprecated"):
                    deprecated.append(f"{where}.{key}")
                _check(doc, prop, item, f"{where}.{key}", out, deprecated)
            elif extra is not None:
                _check(doc, extra, item, f"{where}[{key!r}]", out, deprecated)
            else:
                known = ", ".join(sorted(props))
                out.append(f"{where}.{key}: unknown field of {node.get('id', where)} (fields: {known})")
        return
    if kind == "array":
        if not isinstance(value, list):
            out.append(f"{where}: expected an array, got {value!r}")
            return
        for i, item in enumerate(value):
            _check(doc, node["items"], item, f"{where}[{i}]", out, deprecated)
        return
    if kind == "string":
        fmt = node.get("format")
        if fmt in INT64_FORMATS:
            # The JSON mapping carries 64-bit integers as decimal strings and accepts numbers too.
            if isinstance(value, bool) or not (isinstance(value, int) or str(value).lstrip("-").isdigit()):
                out.append(f"{where}: expected a {fmt}, got {value!r}")
            return
        if not isinstance(value, str):
            out.append(f"{where}: expected a string, got {value!r}")
            return
        if "enum" in node:
            if value not in node["enum"]:
                out.append(f"{where}: {value!r} is not one of {', '.join(node['enum'])}")
            elif node.get("enumDeprecated", [False] * len(node["enum"]))[node["enum"].index(value)]:
                deprecated.append(f"{where}={value}")
        if fmt == "google-duration" and not DURATION.match(value):
            out.append(f"{where}: {value!r} is not a duration such as 60s or 3.5s")
        return
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{where}: expected an integer, got {value!r}")
        return
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{where}: expected a number, got {value!r}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{where}: expected a boolean, got {value!r}")
        return
    out.append(f"{where}: schema node without a type: {node}")
