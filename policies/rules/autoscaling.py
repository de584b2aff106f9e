"""HorizontalPodAutoscalers: a behavior block with a scale-down stabilization window, and
minReplicas <= maxReplicas.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._props import UNKNOWN, get, number, resource_policy

HPA_TYPES = (
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v2beta2:HorizontalPodAutoscaler",
)


def check_hpa_behavior(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    behavior = get(props, "spec", "behavior")
    if behavior is UNKNOWN:
        return
    if behavior is None:
        yield (
            "HPA has no spec.behavior; add one (autoscaling/v2) with fast scale-up and a scale-down "
            "stabilization window, so GPU replicas that take minutes to load are not removed on a dip"
        )
        return
    # Without a window Kubernetes stabilises scale-down over 300 s, which is fine.
    window = number(get(behavior, "scaleDown", "stabilizationWindowSeconds"))
    minimum = number(config["minScaleDownStabilizationSeconds"])
    if isinstance(window, int | float) and window < minimum:
        yield (
            f"HPA scales down after a {window}s stabilization window, below {minimum}s; raise "
            "spec.behavior.scaleDown.stabilizationWindowSeconds"
        )


def check_hpa_bounds(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    # minReplicas defaults to 1 (autoscaling/v2 HorizontalPodAutoscalerSpec).
    lo = number(get(props, "spec", "minReplicas", default=1))
    hi = number(get(props, "spec", "maxReplicas"))
    if UNKNOWN in (lo, hi) or not isinstance(hi, int | float):
        return
    if lo > hi:
        yield f"HPA minReplicas {lo} is above maxReplicas {hi}; the API server rejects it; lower min or raise max"


hpa_behavior = resource_policy(
    name="k8s-hpa-behavior",
    description="Every HorizontalPodAutoscaler has a behavior block with a scale-down stabilization window.",
    types=HPA_TYPES,
    check=check_hpa_behavior,
    config={
        "minScaleDownStabilizationSeconds": {
            "type": "integer",
            "minimum": 0,
            "default": 60,
            "description": "Shortest scale-down stabilization window (seconds) an HPA may set.",
        }
    },
)

hpa_bounds = resource_policy(
    name="k8s-hpa-replica-bounds",
    description="Every HorizontalPodAutoscaler has minReplicas <= maxReplicas.",
    types=HPA_TYPES,
    check=check_hpa_bounds,
)

POLICIES = [hpa_behavior, hpa_bounds]
