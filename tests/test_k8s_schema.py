"""Every Kubernetes object any stack would send validates strictly against the real schema.

The schema is Kubernetes 1.34's (kubernetes-validate, strict: unknown fields fail), a minor
GKE's release channels serve; bump ``KUBERNETES_MINOR`` when the stacks move on.
"""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from infra.offline import run_program
from infra.plan import kubernetes_manifest
from tests.conftest import STACKS, as_pulumi_config, raw_with, stack_capture

KUBERNETES_MINOR = "1.34"


# Custom resources of Google Cloud Managed Service for Prometheus: not in the Kubernetes schema,
# so checked against the subset of the monitoring.googleapis.com/v1 CRD the stack uses
# (GoogleCloudPlatform/prometheus-engine, PodMonitoring/ClusterPodMonitoring), unknown fields failing.
GMP_KINDS = ("PodMonitoring", "ClusterPodMonitoring")
_RELABEL = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "action": {
            "enum": [
                "replace",
                "lowercase",
                "uppercase",
                "keep",
                "drop",
                "keepequal",
                "dropequal",
                "hashmod",
                "labeldrop",
                "labelkeep",
            ]
        },
        "sourceLabels": {"type": "array", "items": {"type": "string"}},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "modulus": {"type": "integer"},
        "replacement": {"type": "string"},
    },
}
GMP_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.googleapis.com/v1"},
        "kind": {"enum": list(GMP_KINDS)},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m)$"},
                            "timeout": {"type": "string"},
                            "metricRelabeling": {"type": "array", "items": _RELABEL},
                        },
                    },
                },
            },
        },
    },
}


def _objects(capture):
    return [(f"{r.type}:{r.name}", kubernetes_manifest(r)) for r in capture.kubernetes_objects()]


def _all_stack_objects():
    out = []
    for stack in STACKS:
        out += [pytest.param(obj, id=f"{stack}:{name}") for name, obj in _objects(stack_capture(stack))]
    ubuntu = raw_with(
        gpuPools=[
            {
                "name": "t4u",
                "accelerator": "nvidia-tesla-t4",
                "gpusPerNode": 1,
                "machineType": "n1-standard-8",
                "maxNodes": 1,
                "driver": "daemonset",
                "imageType": "UBUNTU_CONTAINERD",
            }
        ]
    )
    out += [
        pytest.param(obj, id=f"ubuntu:{name}") for name, obj in _objects(run_program("t", as_pulumi_config(ubuntu)))
    ]
    return out


@pytest.mark.parametrize("obj", _all_stack_objects())
def test_object_is_valid_kubernetes(obj):
    if obj["kind"] in GMP_KINDS:
        jsonschema.validate(obj, GMP_SCHEMA)
    else:
        kubernetes_validate.validate(obj, KUBERNETES_MINOR, strict=True)


def test_gmp_schema_rejects_an_unknown_endpoint_field():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "PodMonitoring")
    bad = {**obj, "spec": {**obj["spec"], "endpoints": [{**obj["spec"]["endpoints"][0], "scheme": "http"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, GMP_SCHEMA)


def test_schema_check_rejects_an_unknown_field():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "DaemonSet")
    bad = {**obj, "spec": {**obj["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_MINOR, strict=True)
