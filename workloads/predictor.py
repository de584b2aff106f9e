"""The LLM-pipeline predictor (seed 001): Flask on 5000 (``/health``, ``/ui``, ``/infer``) and,
in the FasterTransformer image, Triton's raw HTTP on 8000. Exposed with a NodePort Service like
the seed. The image downloads ``AIP_STORAGE_URI`` itself: the source model, or the converted one
when FasterTransformer is on (the conversion Job writes it first).
"""

from __future__ import annotations

import pulumi

from infra.config import ModelConfig, model_image
from workloads.pod import HttpCheck, Probes
from workloads.server import Port, ServerSpec, env, startup_seconds

PORTS = (Port("http", 5000), Port("triton", 8000))
STARTUP_SECONDS = 1200


def spec(model: ModelConfig, model_uri: pulumi.Input[str]) -> ServerSpec:
    """``model_uri``: the resolved gs:// path the predictor loads (converted when FT is on)."""
    return ServerSpec(
        image=model_image(model) or "",
        command=[],
        args=[],
        ports=PORTS,
        probes=Probes.on(HttpCheck("/health", "http"), startup_seconds(model, STARTUP_SECONDS)),
        metrics=None,
        shutdown_seconds=30,
        env=[env("AIP_STORAGE_URI", model_uri), env("HOME", "/tmp")],
    )
