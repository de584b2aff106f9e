"""TorchServe's readiness, startup and liveness check, run by the kubelet as an exec probe.

Exit 0 when the model has at least one worker READY, per TorchServe's management API
(``GET /models/<name>``), else 1. TorchServe's own ``/ping`` answers ``Healthy`` while the model
is still loading and when it never loads, and ``/models/<name>`` answers 200 while its workers are
``UNLOADING`` (both seen with the real TorchServe 0.12.0 in tests/integration/test_torchserve.py),
so neither HTTP status says "this model serves"; the workers' status does.

Stdlib only: the stack renders this file into the model's ConfigMap and the image's Python runs
it (``/home/venv/bin`` is first on the PATH of pytorch/torchserve images: pytorch/serve
docker/Dockerfile). Usage: ``python model_ready.py http://127.0.0.1:8081/models/<name>``.
"""

import json
import sys
import urllib.request

READY = "READY"
TIMEOUT_SECONDS = 3  # under the probe's timeoutSeconds (5)


def ready(models: object) -> bool:
    """Whether a describe-model answer lists a READY worker."""
    if not isinstance(models, list):
        return False
    return any(
        isinstance(w, dict) and w.get("status") == READY
        for m in models
        if isinstance(m, dict)
        for w in m.get("workers") or []
    )


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            models = json.load(answer)
    except (OSError, ValueError):
        return 1
    return 0 if ready(models) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
