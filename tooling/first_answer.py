"""The plan's "Time to first answer" section: per model, the cold-start estimate of a new replica
(infra/coldstart.py) with the image-streaming verdict and the startup probe budget exactly as the
model's Deployment renders them, so the section cannot disagree with what `pulumi up` applies."""

from __future__ import annotations

from infra import coldstart
from infra.config import StackConfig
from tooling.offline import Capture

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STREAMING = "gke-gpu-serving/image-streaming"
HEADER = (
    "Time to first answer (a new replica, from node request to first answer; estimate, each step's "
    "basis beside it, sources in infra/coldstart.py):"
)


def rendered_budget(pod: dict) -> int | None:
    """Seconds the server container's startup probe allows (failureThreshold x periodSeconds)."""
    for c in pod.get("containers") or []:
        probe = c.get("startupProbe")
        if c.get("name") == "server" and probe:
            return int(probe["failureThreshold"]) * int(probe["periodSeconds"])
    return None


def lines(cfg: StackConfig, capture: Capture) -> list[str]:
    out: list[str] = []
    for model in cfg.models:
        dep = next((d for d in capture.of_type(DEPLOYMENT) if d.name == f"model-{model.name}-deployment"), None)
        if dep is None:
            continue
        spec = dep.inputs.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        verdict = ((dep.inputs.get("metadata") or {}).get("annotations") or {}).get(STREAMING, "")
        cold = coldstart.estimate(cfg, model, streamed=verdict.startswith("yes"))
        budget = rendered_budget(pod)
        if budget is not None:
            out += coldstart.lines(cold, budget)
    return [HEADER, *out] if out else []
