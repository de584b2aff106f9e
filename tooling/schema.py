"""The JSON Schema of a ``Pulumi.<stack>.yaml``, generated from the config's pydantic models.

Editors that speak the yaml-language-server protocol complete and check the keys of a stack file
that starts with ``# yaml-language-server: $schema=./stack-config.schema.json``. The schema is
the models' own (camelCase aliases, field descriptions), placed under Pulumi's ``config:`` map as
``gke-gpu-serving:<key>`` and ``gcp:project`` / ``gcp:region``; a misspelt ``gke-gpu-serving:``
key is rejected, other providers' namespaces are left alone. ``tests/test_schema.py`` keeps the
committed file equal to what this module generates.

    python -m tooling schema > stack-config.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra import config

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "stack-config.schema.json"
SECURE = {
    "type": "object",
    "properties": {"secure": {"type": "string", "description": "a value encrypted by pulumi config set --secret"}},
    "required": ["secure"],
    "additionalProperties": False,
}


def stack_file_schema() -> dict[str, Any]:
    model = config.StackConfig.model_json_schema(by_alias=True)
    defs = model.pop("$defs")
    keys: dict[str, Any] = {}
    for name, prop in model["properties"].items():
        full = f"gcp:{name}" if name in config.GCP_KEYS else f"{config.NAMESPACE}:{name}"
        if name == "hfToken":
            prop = {"description": prop.get("description"), "anyOf": [SECURE, {"type": "string"}]}
        keys[full] = prop  # pydantic's #/$defs/... references resolve at this schema's root
    required = [f"gcp:{n}" if n in config.GCP_KEYS else f"{config.NAMESPACE}:{n}" for n in model["required"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/gke-gpu-serving/stack-config.schema.json",
        "title": "gke-gpu-serving stack file (Pulumi.<stack>.yaml)",
        "description": model.get("description", ""),
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": keys,
                "required": required,
                # Other providers' keys (gcp:zone, kubernetes:...) are theirs to check; ours must be known.
                "patternProperties": {f"^(?!{config.NAMESPACE}:)[^:]+:.+$": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "required": ["config"],
        "additionalProperties": False,
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"
