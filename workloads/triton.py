"""NVIDIA Triton (seeds 002, 003): HTTP 8000, gRPC 8001, metrics 8002.

The model repository is read from GCS natively (``--model-repository=gs://...``, credentials from
Workload Identity through the metadata server) or from a GCS FUSE mount. Model control and
batching flags are passed through from config; per-model instance groups and dynamic batching
live in each model's ``config.pbtxt`` in the repository (seed 002).

The container keeps the image's entrypoint (``/opt/nvidia/nvidia_entrypoint.sh``, which sets up
CUDA forward compatibility) and passes ``tritonserver`` as its first argument, as Triton's own
chart does (triton-inference-server/server deploy/gcp/templates/deployment.yaml:
``args: ["tritonserver", "--model-store=..."]``); a ``command`` would replace the entrypoint.
"""

from __future__ import annotations

import pulumi

from infra.config import ModelConfig
from workloads.pod import MODEL_MOUNT, HttpCheck, Probes, Scratch
from workloads.server import Port, ServerSpec, Source, env, startup_seconds

IMAGE = "nvcr.io/nvidia/tritonserver:25.06-py3"
PORTS = (Port("http", 8000), Port("grpc", 8001), Port("metrics", 8002))
STARTUP_SECONDS = 900
# Where Triton writes, seen with strace in tests/integration/test_triton.py (2.51 on the rendered
# args, its gs:// repository served locally): only /tmp and /dev/shm. A gs:// repository is copied
# into /tmp/folderXXXXXX before loading (TRITON_GCS_MOUNT_DIRECTORY, default /tmp: core
# src/filesystem/implementations/gcs.h and common.h, r24.10 and r25.06), so /tmp takes the pod's
# ephemeral storage; the Python backend unpacks into /tmp/python_env_XXXXXX (python_backend
# src/pb_env.cc) and shares tensors through /dev/shm. Embedded DCGM (GPU metrics) logs to
# /var/log/nv-hostengine.log unless __DCGM_DBG_FILE names another file, "-" being stdout (DCGM
# dcgmlib DcgmLogging.h; NVIDIA's dcgm-exporter sets it the same way).
SCRATCH = (Scratch("tmp", "/tmp"),)
DCGM_LOG_ENV = env("__DCGM_DBG_FILE", "-")


def args(model: ModelConfig, repository: pulumi.Input[str]) -> list[pulumi.Input[str]]:
    opts = model.options
    out: list[pulumi.Input[str]] = [
        "tritonserver",
        pulumi.Output.concat("--model-repository=", repository),
        f"--model-control-mode={opts.model_control_mode}",
        "--http-port=8000",
        "--grpc-port=8001",
        "--metrics-port=8002",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
        f"--exit-timeout-secs={opts.exit_timeout_secs}",
    ]
    if opts.model_control_mode == "poll":
        out.append(f"--repository-poll-secs={opts.repository_poll_secs}")
    out += [f"--load-model={name}" for name in opts.load_models]
    if opts.default_max_batch_size is not None:
        out.append(f"--backend-config=default-max-batch-size={opts.default_max_batch_size}")
    out += [f"--backend-config={value}" for value in opts.backend_config]
    return out


def spec(model: ModelConfig, source: Source) -> ServerSpec:
    opts = model.options
    out = ServerSpec(
        image=model.image or IMAGE,
        command=[],  # the image's entrypoint runs; args[0] is tritonserver
        args=[],
        ports=PORTS,
        probes=Probes(
            startup=HttpCheck("/v2/health/ready", "http"),
            readiness=HttpCheck("/v2/health/ready", "http"),
            liveness=HttpCheck("/v2/health/live", "http"),
            startup_seconds=startup_seconds(model, STARTUP_SECONDS),
        ),
        metrics=HttpCheck("/metrics", "metrics"),
        shutdown_seconds=opts.exit_timeout_secs + 5,
        scratch=SCRATCH,
        env=[DCGM_LOG_ENV],
    )
    if opts.repository == "fuse" and source.bucket is not None:
        out.parts.add_gcsfuse(source.bucket, source.path, model.run_as_user, cache=source.cache)
        out.args = args(model, MODEL_MOUNT)
    else:
        out.args = args(model, source.uri)
    return out
