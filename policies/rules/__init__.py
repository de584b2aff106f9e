"""Every rule of the pack, by domain. ``POLICIES`` is what ``policies/__main__.py`` assembles.

Imports are relative so the package loads as ``rules`` (the Pulumi CLI runs the pack from
``policies/``) and as ``policies.rules`` (tests and the offline plan, from the repository root).
"""

from __future__ import annotations

from . import (
    autoscaling,
    gateway,
    gke,
    gpu,
    iam,
    images,
    pod_resources,
    pod_scheduling,
    pod_security,
    services,
    stack,
    storage,
)

PACK_NAME = "gke-gpu-serving"

POLICIES = [
    *gke.POLICIES,
    *gpu.POLICIES,
    *storage.POLICIES,
    *iam.POLICIES,
    *pod_resources.POLICIES,
    *pod_security.POLICIES,
    *images.POLICIES,
    *pod_scheduling.POLICIES,
    *autoscaling.POLICIES,
    *services.POLICIES,
    *gateway.POLICIES,
    *stack.POLICIES,
]

__all__ = ["PACK_NAME", "POLICIES"]
