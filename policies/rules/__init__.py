"""Every rule of the pack, by domain. ``POLICIES`` is what ``policies/__main__.py`` assembles.

Imports are relative so the package loads as ``rules`` (the Pulumi CLI runs the pack from
``policies/``) and as ``policies.rules`` (tests and the offline plan, from the repository root).
"""

from __future__ import annotations

from . import gateway, gke, gpu, iam, kubernetes, stack, storage

PACK_NAME = "gke-gpu-serving"

POLICIES = [
    *gke.POLICIES,
    *gpu.POLICIES,
    *storage.POLICIES,
    *iam.POLICIES,
    *kubernetes.POLICIES,
    *gateway.POLICIES,
    *stack.POLICIES,
]

__all__ = ["PACK_NAME", "POLICIES"]
