"""Every Kubernetes object any stack would send validates strictly against the real schema.

The schema is Kubernetes 1.34's (kubernetes-validate, strict: unknown fields fail), a minor
GKE's release channels serve; bump ``KUBERNETES_MINOR`` when the stacks move on.
"""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.conftest import STACKS, as_pulumi_config, raw_with, stack_capture
from tests.reality import crds
from tests.reality.captures import variant_capture
from tooling.offline import run_program
from tooling.plan_text import kubernetes_manifest

KUBERNETES_MINOR = "1.34"


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
    # GCS FUSE file caches (a pod-provided Memory cache volume) and the Run:ai streamer.
    out += [pytest.param(obj, id=f"fuse-cache:{name}") for name, obj in _objects(variant_capture("fuse-cache"))]
    return out


@pytest.mark.parametrize("obj", _all_stack_objects())
def test_object_is_valid_kubernetes(obj):
    # Custom resources (Managed Prometheus PodMonitoring, ClusterPodMonitoring) against their real
    # CRDs, kept with their source in tests/fixtures/crds/; built-in kinds against the schema.
    if crds.known(obj["apiVersion"], obj["kind"]):
        assert crds.errors(obj) == []
        if crds.known(obj["apiVersion"], obj["kind"], crds.LATEST_DIR):
            assert crds.errors(obj, crds.LATEST_DIR) == []
    else:
        kubernetes_validate.validate(obj, KUBERNETES_MINOR, strict=True)


def test_crd_check_rejects_an_unknown_endpoint_field():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "PodMonitoring")
    bad = {**obj, "spec": {**obj["spec"], "endpoints": [{**obj["spec"]["endpoints"][0], "portName": "x"}]}}
    assert any("'portName' was unexpected" in e for e in crds.errors(bad))


def test_crd_check_evaluates_the_crd_cel_rules():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "PodMonitoring")
    relabel = [{"action": "replace", "sourceLabels": ["pod"], "targetLabel": "cluster"}]
    bad = {**obj, "spec": {**obj["spec"], "endpoints": [{**obj["spec"]["endpoints"][0], "metricRelabeling": relabel}]}}
    assert any("targetLabel: CEL rule" in e and "'cluster'" in e for e in crds.errors(bad))


def test_crd_check_requires_what_the_crd_requires():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "PodMonitoring")
    endpoint = {k: v for k, v in obj["spec"]["endpoints"][0].items() if k != "interval"}
    assert crds.errors({**obj, "spec": {**obj["spec"], "endpoints": [endpoint]}}) == [
        "spec.endpoints.0: 'interval' is a required property"
    ]


def test_crd_check_compares_durations_as_durations():
    # CEL: '!has(self.timeout) || self.timeout <= self.interval'; as strings "5s" > "30s".
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "PodMonitoring")
    endpoint = {**obj["spec"]["endpoints"][0], "interval": "30s", "timeout": "5s"}
    assert crds.errors({**obj, "spec": {**obj["spec"], "endpoints": [endpoint]}}) == []
    late = {**endpoint, "timeout": "45s"}
    assert any(
        "self.timeout <= self.interval" in e for e in crds.errors({**obj, "spec": {**obj["spec"], "endpoints": [late]}})
    )


def test_schema_check_rejects_an_unknown_field():
    obj = next(o for _, o in _objects(stack_capture("dev")) if o["kind"] == "DaemonSet")
    bad = {**obj, "spec": {**obj["spec"], "replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_MINOR, strict=True)
