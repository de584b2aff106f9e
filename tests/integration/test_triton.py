"""Triton run on what the stacks render, with the ``tritonserver`` binary that the
``nvidia-pytriton==0.7.0`` wheel bundles: Triton 2.51. The stack's image is
``nvcr.io/nvidia/tritonserver:25.06-py3``, Triton 2.59; what changed between them is not shown here.

Taken as rendered: the container's args (``tritonserver`` first: the image's entrypoint runs it),
``--model-repository=gs://<bucket>/...`` included, its env, its volume mounts, its probes and named
ports, the PodMonitoring endpoint, and the metric names the HPAs and the dashboard read. Changed
to run here, and nothing else:

- the bucket and the GKE metadata server are ``fake_gcs`` on 127.0.0.1, which Triton's GCS client
  is pointed at with ``CLOUD_STORAGE_EMULATOR_ENDPOINT`` and ``GCE_METADATA_ROOT``; the bucket
  holds one Python-backend model (built by the test) under the rendered repository path;
- ``--http-port``/``--grpc-port``/``--metrics-port``: free ports, and ``--http-address``,
  ``--grpc-address``, ``--metrics-address`` added as 127.0.0.1 (the image listens on 0.0.0.0);
- ``--backend-directory`` added: the wheel's backends copied with the Python 3.11 stub, as pytriton
  lays them out (the image has them at /opt/tritonserver/backends); ``LD_LIBRARY_PATH`` names the
  wheel's bundled libraries;
- the image's working directory /opt/tritonserver and home /home/triton-server are directories of
  the test's (``writes.PodFiles``), and the server runs under ``strace``, which records every path
  it writes (tests/integration/writes.py).

Runs per distinct render: a model that loads in a few seconds and then serves, and one whose
``initialize`` raises.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra import signals
from tests.integration import fake_gcs, harness, rendered, servers_env, writes
from tests.integration.servers import server_env

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).parent / "assets" / "triton_model"
RENDERS = rendered.renders("triton")
MODEL = "tiny"
LOAD_SECONDS = 6
REQUESTS, REQUEST_SECONDS = 20, 30
INFER_BODY = json.dumps({"inputs": [{"name": "INPUT", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
PORT_FLAGS = {"--http-port": "http", "--grpc-port": "grpc", "--metrics-port": "metrics"}
# What the image gives the container and the pod does not set: its working directory and the home
# of its triton-server user, uid 1000 (triton-inference-server/server build.py, r25.06: `WORKDIR
# /opt/tritonserver`, `useradd triton-server`, checked to be uid 1000).
IMAGE_WORKDIR = "/opt/tritonserver"
IMAGE_HOME = "/home/triton-server"


def config_pbtxt(params: dict[str, str]) -> str:
    parameters = "\n".join(f'parameters {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in params.items())
    return (
        f'name: "{MODEL}"\nbackend: "python"\nmax_batch_size: 8\n'
        'input [ { name: "INPUT" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        'output [ { name: "OUTPUT" data_type: TYPE_FP32 dims: [ 2 ] } ]\n'
        "instance_group [ { kind: KIND_CPU count: 1 } ]\n" + parameters + "\n"
    )


def server_tree(venv: Path, tmp: Path) -> Path:
    """The wheel's tritonserver tree with the Python backend stub for this interpreter."""
    src = servers_env.site_packages() / "pytriton" / "tritonserver"
    dst = tmp / "tritonserver"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("python_backend_stubs"))
    stub = src / "python_backend_stubs" / "3.11" / "triton_python_backend_stub"
    shutil.copy(stub, dst / "backends" / "python" / "triton_python_backend_stub")
    return dst


def local_args(args: list[str], tree: Path, ports: dict[str, int]) -> list[str]:
    assert args[0] == "tritonserver"
    out = [str(tree / "bin" / "tritonserver")]
    for arg in args[1:]:
        flag, _, _ = arg.partition("=")
        out.append(f"{flag}={ports[PORT_FLAGS[flag]]}" if flag in PORT_FLAGS else arg)
    out += [
        f"--backend-directory={tree / 'backends'}",
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        "--metrics-address=127.0.0.1",
    ]
    return out


def repository(args: list[str]) -> tuple[str, str]:
    """(bucket, object prefix) of the rendered gs:// model repository."""
    uri = next(a.split("=", 1)[1] for a in args if a.startswith("--model-repository="))
    assert uri.startswith("gs://"), f"the example stacks read Triton's repository from GCS natively, not {uri}"
    bucket, _, prefix = uri.removeprefix("gs://").partition("/")
    return bucket, prefix


@dataclass
class Run:
    files: writes.PodFiles
    bucket: fake_gcs.Bucket
    samples: list[tuple[bool, dict[str, bool]]] = field(default_factory=list)  # (loaded, probes)
    idle_metrics: dict[str, str] = field(default_factory=dict)
    request_codes: list[int | None] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None
    written: set[str] = field(default_factory=set)
    token_opens: list[str] = field(default_factory=list)


def run_triton(venv: Path, render: rendered.Render, tmp: Path, params: dict[str, str], serve: bool) -> Run:
    tree = server_tree(venv, tmp)
    bucket_name, prefix = repository(render.container["args"])
    bucket = fake_gcs.Bucket(bucket_name, tmp / "bucket")
    model = bucket.root / prefix / MODEL
    (model / "1").mkdir(parents=True)
    shutil.copy(ASSETS / "model.py", model / "1" / "model.py")
    marker = tmp / "loaded"
    (model / "config.pbtxt").write_text(config_pbtxt({**params, "loaded_marker": str(marker)}))
    files = writes.PodFiles(tmp / "root", render.writable(), tmp, frozenset({str(marker)}))
    files.make(IMAGE_WORKDIR, IMAGE_HOME)
    ports = {p["name"]: harness.free_port() for p in render.container["ports"]}
    libs = servers_env.site_packages() / "nvidia_pytriton.libs"
    command = local_args(render.container["args"], tree, ports)
    assert "command" not in render.container
    prober = harness.Prober(render.container, ports)
    run = Run(files=files, bucket=bucket)
    log = tmp / "tritonserver.strace"
    workdir = files.local(IMAGE_WORKDIR)
    with fake_gcs.serving(bucket) as endpoint:
        local_env = {
            "LD_LIBRARY_PATH": str(libs),
            "HOME": str(files.local(IMAGE_HOME)),
            "CLOUD_STORAGE_EMULATOR_ENDPOINT": f"http://{endpoint}",
            "GCE_METADATA_ROOT": endpoint,
        }
        env = server_env(venv, render.container.get("env"), local_env)
        with harness.started(writes.traced(command, log), env=env, cwd=workdir, log=tmp / "tritonserver.log") as proc:
            deadline = time.monotonic() + LOAD_SECONDS + 90
            while time.monotonic() < deadline and proc.alive():
                probes = prober.all()
                run.samples.append((marker.exists(), probes))
                if serve and all(probes.values()):
                    break
                time.sleep(0.5)
            run.exit_code = proc.popen.poll()
            if serve:
                assert all(run.samples[-1][1].values()), f"Triton never became ready:\n{proc.tail()}"
                metrics, path = ports[render.scrape["port"]], render.scrape["path"]
                run.idle_metrics = harness.scrape(metrics, path)
                infer = f"/v2/models/{MODEL}/infer"
                run.request_codes = harness.bounded_requests(
                    lambda: harness.http_post_json(ports["http"], infer, INFER_BODY.encode(), timeout=10),
                    REQUESTS,
                    REQUEST_SECONDS,
                )
                run.metrics = harness.scrape(metrics, path)
    run.written = writes.written_paths(log, workdir)
    run.token_opens = writes.opened(log, writes.TOKEN_DIR)
    return run


@pytest.fixture(scope="module", params=RENDERS, ids=[r.id for r in RENDERS])
def render(request) -> rendered.Render:
    return request.param


@pytest.fixture(scope="module")
def serving(servers_venv, strace, render, tmp_path_factory) -> Run:
    return run_triton(
        servers_venv, render, tmp_path_factory.mktemp("triton"), {"load_seconds": str(LOAD_SECONDS)}, True
    )


@pytest.fixture(scope="module")
def failing(servers_venv, strace, render, tmp_path_factory) -> Run:
    return run_triton(servers_venv, render, tmp_path_factory.mktemp("triton-fail"), {"fail": "true"}, False)


def test_rendered_probes_fail_while_the_model_loads(serving):
    loading = [probes for loaded, probes in serving.samples if not loaded]
    assert loading and not any(any(p.values()) for p in loading)


def test_rendered_probes_pass_once_the_model_serves(serving):
    assert serving.samples[-1][1] == dict.fromkeys(("startupProbe", "readinessProbe", "livenessProbe"), True)


def test_server_exits_with_an_error_when_the_model_never_loads(failing):
    """Triton's default --exit-on-error: the container exits and the kubelet restarts it."""
    assert failing.exit_code not in (None, 0)


def test_rendered_probes_never_pass_when_the_model_never_loads(failing):
    assert failing.samples and not any(any(p.values()) for _, p in failing.samples)


def test_bounded_inference_requests_all_succeed(serving):
    assert serving.request_codes == [200] * REQUESTS


def test_catalog_says_triton_series_exist_before_the_first_inference():
    assert signals.EXPORTED_WHEN_IDLE["triton"] is True


def test_used_metrics_exist_at_zero_once_the_model_loads(serving, render):
    assert {n: serving.idle_metrics.get(n) for n in render.used_metrics()} == render.used_metrics()


def test_used_metrics_are_exported_with_the_catalog_type(serving, render):
    assert {n: serving.metrics.get(n) for n in render.used_metrics()} == render.used_metrics()


def test_serving_writes_only_to_writable_mounts(serving):
    """Traced while its gs:// repository is copied, loaded and served, Triton writes only to the
    pod's emptyDirs (/tmp, /dev/shm): its root file system is read-only."""
    assert serving.files.outside_writable(serving.written) == []


def test_a_model_that_never_loads_writes_only_to_writable_mounts(failing):
    assert failing.files.outside_writable(failing.written) == []


def test_the_models_files_are_copied_from_the_bucket_under_tmp(serving):
    """Why /tmp takes the pod's ephemeral storage: each model's files land there before it loads
    (TRITON_GCS_MOUNT_DIRECTORY, default /tmp)."""
    in_bucket = {"1/model.py", "config.pbtxt"}
    copies = {
        rel
        for w in serving.written
        if writes.under(serving.files.pod_path(w) or "", ("/tmp",))
        for rel in in_bucket
        if w.endswith("/" + rel)
    }
    assert copies == in_bucket


def test_every_scratch_dir_the_pod_mounts_is_written(serving, render):
    used = {
        m
        for m in render.writable()
        if any(writes.under(serving.files.pod_path(w) or "", (m,)) for w in serving.written)
    }
    assert used == set(render.writable())


def test_google_credentials_come_from_the_metadata_server(serving):
    """Workload Identity's path: a token from the (GKE) metadata server, sent on every GCS call."""
    token_calls = [p for p, flavor, _ in serving.bucket.requests if p.endswith("/token") and flavor == "Google"]
    storage_auth = {auth for p, _, auth in serving.bucket.requests if not p.startswith("/computeMetadata/")}
    assert (bool(token_calls), storage_auth) == (True, {f"Bearer {fake_gcs.TOKEN}"})


def test_the_server_never_opens_a_kubernetes_token(serving):
    """Why the pod mounts none (automountServiceAccountToken: false)."""
    assert serving.token_opens == []
