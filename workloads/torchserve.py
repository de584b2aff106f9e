"""TorchServe (seed 000, T5-small): inference 8080, management 8081, Prometheus metrics 8082.

The server reads a ``config.properties`` the stack renders (addresses on 0.0.0.0, Prometheus
metrics, queue size) so the same settings apply to a baked model image (seed 000 builds one
with the .mar inside) and to the stock image reading .mar files from the bucket over GCS FUSE.
Startup, readiness and liveness run :mod:`workloads.torchserve_ready` (rendered into the same
ConfigMap) as an exec probe: it passes only while the model has a READY worker. Upstream's
``/ping`` (readiness) and ``/models/<name>`` (liveness) answer 200 while the model loads and when
it never loads (kubernetes-engine-samples ai-ml/t5-model-serving/kubernetes/serving-gpu.yaml uses
them; tests/integration/test_torchserve.py shows both with the real server).
"""

from __future__ import annotations

from pathlib import Path

from infra.config import ModelConfig
from workloads.pod import MODEL_MOUNT, ExecCheck, HttpCheck, Probes, Scratch
from workloads.server import Port, ServerSpec, Source, env, startup_seconds

IMAGE = "pytorch/torchserve:0.12.0-gpu"
BAKED_MODEL_STORE = "/home/model-server/model-store"  # the seed's Dockerfile.torch layout
CONFIG_DIR = "/etc/torchserve"
PORTS = (Port("http", 8080), Port("management", 8081), Port("metrics", 8082))
STARTUP_SECONDS = 600
READY_SCRIPT = "model_ready.py"
READY_SOURCE = Path(__file__).with_name("torchserve_ready.py")
# Where TorchServe 0.12.0 writes, seen with strace in tests/integration/test_torchserve.py. Under
# TEMP: the launcher's pid file, the worker sockets, the netty native libraries the JVM unpacks and
# the extracted model archives (ts/model_server.py passes TEMP as -Djava.io.tmpdir; the image's
# ENV TEMP is /home/model-server/tmp, docker/Dockerfile at v0.12.0, read-only here); the JVM's
# hsperfdata goes to /tmp whatever TEMP says. So TEMP is /tmp. The log files and config snapshots
# go to LOG_LOCATION and METRICS_LOCATION (frontend log4j2.xml; default logs/ in the working
# directory, /home/model-server): five rolling files of up to 100 MB each plus one compressed
# roll per file and day, so their own 2Gi bounds them for weeks, not for ever (a full volume
# evicts the pod, which restarts with an empty one).
TEMP_DIR = "/tmp"
LOG_DIR = "/home/model-server/logs"
SCRATCH = (Scratch("tmp", TEMP_DIR), Scratch("logs", LOG_DIR, "2Gi"))


def model_ready(model: ModelConfig) -> ExecCheck:
    """The exec probe: the image's Python asks the management API whether a worker is READY."""
    return ExecCheck(("python", f"{CONFIG_DIR}/{READY_SCRIPT}", f"http://127.0.0.1:8081/models/{model.name}"))


def config_properties(model: ModelConfig) -> str:
    """``config.properties`` (TorchServe's configuration file) for this model."""
    opts = model.options
    store = MODEL_MOUNT if opts.model_store == "bucket" else BAKED_MODEL_STORE
    lines = {
        "inference_address": "http://0.0.0.0:8080",
        "management_address": "http://0.0.0.0:8081",
        "metrics_address": "http://0.0.0.0:8082",
        "metrics_mode": "prometheus",
        "enable_metrics_api": "true",
        "number_of_netty_threads": str(opts.netty_threads),
        "job_queue_size": str(opts.job_queue_size),
        "install_py_dep_per_model": str(opts.install_py_dep_per_model).lower(),
        "model_store": store,
        "load_models": "all",
        # TorchServe >= 0.11 requires a token by default; the NetworkPolicy gates access instead.
        "disable_token_authorization": "true",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def spec(model: ModelConfig, source: Source) -> ServerSpec:
    opts = model.options
    out = ServerSpec(
        image=model.image or IMAGE,
        command=["torchserve"],
        args=["--start", "--foreground", "--ts-config", f"{CONFIG_DIR}/config.properties"],
        ports=PORTS,
        probes=Probes.on(model_ready(model), startup_seconds(model, STARTUP_SECONDS)),
        metrics=HttpCheck("/metrics", "metrics"),
        shutdown_seconds=30,
        scratch=SCRATCH,
        env=[env("TEMP", TEMP_DIR), env("LOG_LOCATION", LOG_DIR), env("METRICS_LOCATION", LOG_DIR)],
        config_files={"config.properties": config_properties(model), READY_SCRIPT: READY_SOURCE.read_text()},
        config_dir=CONFIG_DIR,
    )
    if opts.model_store == "bucket" and source.bucket is not None:
        out.parts.add_gcsfuse(source.bucket, source.path, model.run_as_user, cache=source.cache)
    return out
