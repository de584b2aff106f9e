"""The LLM-pipeline predictor (seed 001): Flask on 5000 (``/health``, ``/ui``, ``/infer``) and,
in the FasterTransformer image, Triton's raw HTTP on 8000. Exposed with a NodePort Service like
the seed. The image downloads ``AIP_STORAGE_URI`` itself: the source model, or the converted one
when FasterTransformer is on (the conversion Job writes it first).

With FasterTransformer, ``predict_triton.py`` (GoogleCloudPlatform/llm-pipeline-examples
src/predict_triton.py @424b2bd) downloads the model into ``/workspace/all_models/`` (root-owned in
the image), starts tritonserver on 8000 and answers ``/health`` with ok at once, whether or not
Triton has loaded the model or is still alive. So that directory is a writable emptyDir, and the
probes ask Triton (``/v2/health/ready`` for startup and readiness, ``/v2/health/live`` for
liveness). Without FasterTransformer, ``predict.py`` loads the model before Flask starts, so its
``/health`` does mean the model is up: all three probes stay on it.
"""

from __future__ import annotations

import pulumi

from infra.config import ModelConfig, model_image
from workloads.pod import TMP, HttpCheck, Probes, Scratch
from workloads.server import Port, ServerSpec, env, startup_seconds

PORTS = (Port("http", 5000), Port("triton", 8000))
STARTUP_SECONDS = 1200
FT_MODEL_DIR = "/workspace/all_models"
# Where the predictor writes. Not seen with a real process: the predictor exists only as an image
# (gcr.io/llm-containers/predict[-triton]), not as a package this machine can run. With
# FasterTransformer, predict_triton.py downloads into FT_MODEL_DIR, and the tritonserver it starts
# writes under /tmp like any Triton (workloads/triton.py); HOME is /tmp for whatever else caches.
FT_SCRATCH = (Scratch("all-models", FT_MODEL_DIR), Scratch("tmp", "/tmp", "1Gi"))


def probes(model: ModelConfig) -> Probes:
    seconds = startup_seconds(model, STARTUP_SECONDS)
    if model.options.faster_transformer:
        ready = HttpCheck("/v2/health/ready", "triton")
        return Probes(
            startup=ready, readiness=ready, liveness=HttpCheck("/v2/health/live", "triton"), startup_seconds=seconds
        )
    return Probes.on(HttpCheck("/health", "http"), seconds)


def spec(model: ModelConfig, model_uri: pulumi.Input[str]) -> ServerSpec:
    """``model_uri``: the resolved gs:// path the predictor loads (converted when FT is on)."""
    out = ServerSpec(
        image=model_image(model) or "",
        command=[],
        args=[],
        ports=PORTS,
        probes=probes(model),
        metrics=None,
        shutdown_seconds=30,
        scratch=FT_SCRATCH if model.options.faster_transformer else (TMP,),
        env=[env("AIP_STORAGE_URI", model_uri), env("HOME", "/tmp")],
    )
    return out
