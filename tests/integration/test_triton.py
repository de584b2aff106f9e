"""Triton run on what the stacks render, with the ``tritonserver`` binary that the
``nvidia-pytriton==0.7.0`` wheel bundles: Triton 2.51. The stack's image is
``nvcr.io/nvidia/tritonserver:25.06-py3``, Triton 2.59; what changed between them is not shown here.

Taken as rendered: the container's args (``tritonserver`` first: the image's entrypoint runs it),
its probes and named ports, the PodMonitoring endpoint, and the metric names the HPAs and the
dashboard read. Changed to run here, and nothing else:

- ``--model-repository``: a local repository holding one Python-backend model (built by the test)
  instead of the bucket;
- ``--http-port``/``--grpc-port``/``--metrics-port``: free ports, and ``--http-address``,
  ``--grpc-address``, ``--metrics-address`` added as 127.0.0.1 (the image listens on 0.0.0.0);
- ``--backend-directory`` added: the wheel's backends copied with the Python 3.11 stub, as pytriton
  lays them out (the image has them at /opt/tritonserver/backends); ``LD_LIBRARY_PATH`` names the
  wheel's bundled libraries.

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
from tests.integration import harness, rendered, servers_env
from tests.integration.servers import server_env

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).parent / "assets" / "triton_model"
RENDERS = rendered.renders("triton")
MODEL = "tiny"
LOAD_SECONDS = 6
REQUESTS, REQUEST_SECONDS = 20, 30
INFER_BODY = json.dumps({"inputs": [{"name": "INPUT", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})
PORT_FLAGS = {"--http-port": "http", "--grpc-port": "grpc", "--metrics-port": "metrics"}


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


def local_args(args: list[str], tree: Path, repo: Path, ports: dict[str, int]) -> list[str]:
    assert args[0] == "tritonserver"
    out = [str(tree / "bin" / "tritonserver")]
    for arg in args[1:]:
        flag, _, _ = arg.partition("=")
        if flag == "--model-repository":
            out.append(f"--model-repository={repo}")
        elif flag in PORT_FLAGS:
            out.append(f"{flag}={ports[PORT_FLAGS[flag]]}")
        else:
            out.append(arg)
    out += [
        f"--backend-directory={tree / 'backends'}",
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        "--metrics-address=127.0.0.1",
    ]
    return out


@dataclass
class Run:
    samples: list[tuple[bool, dict[str, bool]]] = field(default_factory=list)  # (loaded, probes)
    idle_metrics: dict[str, str] = field(default_factory=dict)
    request_codes: list[int | None] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    exit_code: int | None = None


def run_triton(venv: Path, render: rendered.Render, tmp: Path, params: dict[str, str], serve: bool) -> Run:
    tree = server_tree(venv, tmp)
    repo = tmp / "repo"
    (repo / MODEL / "1").mkdir(parents=True)
    shutil.copy(ASSETS / "model.py", repo / MODEL / "1" / "model.py")
    marker = tmp / "loaded"
    (repo / MODEL / "config.pbtxt").write_text(config_pbtxt({**params, "loaded_marker": str(marker)}))
    ports = {p["name"]: harness.free_port() for p in render.container["ports"]}
    libs = servers_env.site_packages() / "nvidia_pytriton.libs"
    env = server_env(venv, render.container.get("env"), {"LD_LIBRARY_PATH": str(libs)})
    command = local_args(render.container["args"], tree, repo, ports)
    assert "command" not in render.container
    prober = harness.Prober(render.container, ports)
    run = Run()
    with harness.started(command, env=env, cwd=tmp, log=tmp / "tritonserver.log") as proc:
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
    return run


@pytest.fixture(scope="module", params=RENDERS, ids=[r.id for r in RENDERS])
def render(request) -> rendered.Render:
    return request.param


@pytest.fixture(scope="module")
def serving(servers_venv, render, tmp_path_factory) -> Run:
    return run_triton(
        servers_venv, render, tmp_path_factory.mktemp("triton"), {"load_seconds": str(LOAD_SECONDS)}, True
    )


@pytest.fixture(scope="module")
def failing(servers_venv, render, tmp_path_factory) -> Run:
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
