"""The JSON Schema of a stack file: generated from the config models, committed, and used by editors
through each stack file's yaml-language-server comment."""

from __future__ import annotations

import copy
import subprocess
import sys

import jsonschema
import pytest
import yaml

from tests.conftest import STACKS
from tooling import schema
from tooling.offline import PROJECT_DIR


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema.stack_file_schema())


def _stack(name: str) -> dict:
    return yaml.safe_load((PROJECT_DIR / f"Pulumi.{name}.yaml").read_text())


def test_the_committed_schema_is_the_generated_one():
    assert schema.SCHEMA_FILE.read_text() == schema.render(), "run: python -m tooling schema > stack-config.schema.json"


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(schema.stack_file_schema())


@pytest.mark.parametrize("stack", STACKS)
def test_every_example_stack_validates(stack):
    assert [e.message for e in _validator().iter_errors(_stack(stack))] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_example_stack_points_editors_at_the_schema(stack):
    first = (PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./stack-config.schema.json"


def test_an_unknown_key_of_ours_is_rejected():
    doc = _stack("dev")
    doc["config"]["gke-gpu-serving:clustr"] = {"mode": "standard"}
    assert any("clustr" in e.message for e in _validator().iter_errors(doc))


def test_an_unknown_nested_key_is_rejected():
    doc = copy.deepcopy(_stack("dev"))
    doc["config"]["gke-gpu-serving:cluster"]["privateNode"] = True
    assert any("privateNode" in e.message for e in _validator().iter_errors(doc))


def test_other_providers_keys_are_left_alone():
    doc = _stack("dev")
    doc["config"]["gcp:zone"] = "us-central1-a"
    assert list(_validator().iter_errors(doc)) == []


def test_a_secret_value_is_accepted_for_the_hugging_face_token():
    doc = _stack("staging")
    doc["config"]["gke-gpu-serving:hfToken"] = {"secure": "v1:abc"}
    assert list(_validator().iter_errors(doc)) == []


def test_field_descriptions_reach_the_schema():
    cluster = schema.stack_file_schema()["$defs"]["ClusterConfig"]["properties"]
    assert "IAM-gated" in cluster["dnsEndpoint"]["description"]


def test_the_command_prints_the_schema():
    out = subprocess.run(
        [sys.executable, "-m", "tooling", "schema"], capture_output=True, text=True, check=True, cwd=PROJECT_DIR
    )
    assert out.stdout == schema.render()
