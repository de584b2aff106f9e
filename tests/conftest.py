"""Shared fixtures: the example stacks run once each under mocks, and a config builder.

Everything runs in-process through the Pulumi SDK's mock runtime (``tooling.offline``): no
cloud, no credentials, no Pulumi CLI.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import pulumi
import pytest

from tooling import offline
from tooling.offline import Capture

STACKS = ("dev", "staging", "prod")
# Kinds GKE builds load-balancer pieces from outside the state (a Gateway's forwarding rule and
# proxies, a route's URL map, a pool's backend service, NEGs and health check): deleted on their own,
# before the cluster, like LoadBalancer Services.
LOAD_BALANCER_KINDS = ("Gateway", "HTTPRoute", "InferencePool", "HealthCheckPolicy", "GCPBackendPolicy")
PROJECT = "replace-with-your-project-id"


@cache
def stack_capture(stack: str) -> Capture:
    """The example stack's program run, once per test session."""
    return offline.run_stack(stack)


@pytest.fixture(params=STACKS)
def any_stack(request) -> tuple[str, Capture]:
    return request.param, stack_capture(request.param)


def base_raw() -> dict:
    """A minimal valid Standard stack (dev), as the tree under the config namespace."""
    return {
        "project": PROJECT,
        "region": "us-central1",
        "environment": "dev",
        "cluster": {"mode": "standard", "location": "us-central1-a", "deletionProtection": False},
        "gpuPools": [
            {
                "name": "t4",
                "accelerator": "nvidia-tesla-t4",
                "gpusPerNode": 1,
                "machineType": "n1-standard-8",
                "minNodes": 0,
                "maxNodes": 2,
            }
        ],
        "models": [
            {
                "name": "t5-small",
                "server": "torchserve",
                "gpu": {"type": "nvidia-tesla-t4", "count": 1},
                "source": "gs://{models}/t5",
                "image": "us-central1-docker.pkg.dev/p/models/t5-small:1.0-gpu",
            }
        ],
        "storage": {"buckets": [{"name": "models"}]},
    }


def raw_with(**changes) -> dict:
    raw = copy.deepcopy(base_raw())
    raw.update(copy.deepcopy(changes))
    return raw


def as_pulumi_config(raw: dict) -> dict[str, str]:
    """A raw tree as the engine passes config: ``ns:key`` -> string (JSON for structures)."""
    out = {}
    for key, value in raw.items():
        ns = "gcp" if key in ("project", "region") else "gke-gpu-serving"
        out[f"{ns}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def run_raw(raw: dict, stack: str = "test") -> Capture:
    return offline.run_program(stack, as_pulumi_config(raw))


@pytest.fixture
def mocked() -> Capture:
    """Mocks for component tests written with ``@pulumi.runtime.test``; returns the capture."""
    from pulumi.runtime.settings import ROOT

    capture = Capture()
    mocks = offline.PlanMocks(capture)
    ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project="gke-gpu-serving", stack="test", preview=False, monitor=offline.RecordingMonitor(mocks, capture)
    )
    return capture
