"""TorchServe 0.12.0 (the stack's ``pytorch/torchserve:0.12.0-gpu``) run on what the stacks render.

Taken as rendered: the ConfigMap's ``config.properties`` and ``model_ready.py``, the container's
command, args and env, its volume mounts, its three probes, its named ports, the PodMonitoring
endpoint, and the metric names the HPAs and the dashboard read. Changed to run here, and nothing
else:

- ``inference_address``/``management_address``/``metrics_address``: 127.0.0.1 on free ports
  instead of 0.0.0.0:8080/8081/8082 (and the exec probe's management URL likewise), and
  ``grpc_inference_port``/``grpc_management_port`` added on free ports (default 7070/7071);
- the container's file system is a directory of the test's (``writes.PodFiles``): every path the
  pod names (the emptyDir mounts, the ConfigMap's /etc/torchserve, the ``model_store``, the
  image's working directory and home /home/model-server, its ENV TEMP) is that path under it, in
  the args, the env (the image's ENV under the pod's, as the runtime applies them) and the config
  files; the model store holds a tiny ``torch.nn.Linear`` archive under the
  rendered model name, built with torch-model-archiver 0.12.0;
- ``torchserve`` and the probe's ``python`` are the servers virtualenv's (the image's
  /home/venv/bin); the server and every probe run under ``strace`` (tests/integration/writes.py),
  which records every path they write.

Two runs per distinct render: a model that takes a few seconds to load and then serves, and one
whose handler raises while loading.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra import signals
from tests.integration import harness, rendered, writes
from tests.integration.servers import server_env
from workloads import jobs, torchserve

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).parent / "assets" / "torchserve"
RENDERS = rendered.renders("torchserve")
# What the image gives the container and the pod does not set: the working directory and the home
# of its model-server user, uid 1000 (pytorch/serve docker/Dockerfile at v0.12.0: `useradd -m
# model-server`, `WORKDIR /home/model-server`).
IMAGE_WORKDIR = IMAGE_HOME = "/home/model-server"
# The image's own ENV (same Dockerfile), which the runtime applies under the pod's env.
IMAGE_ENV = {"TEMP": "/home/model-server/tmp"}
LOAD_SECONDS = 8
FAILING_WATCH_SECONDS = 20
REQUESTS, REQUEST_SECONDS = 20, 30


@dataclass
class Sample:
    loaded: bool  # the handler had finished loading when the probes were done (its marker exists)
    ping: bool  # TorchServe's own /ping on the inference port answers 2xx/3xx
    probes: dict[str, bool]


@dataclass
class Run:
    files: writes.PodFiles
    samples: list[Sample] = field(default_factory=list)
    idle_metrics: dict[str, str] = field(default_factory=dict)
    request_codes: list[int | None] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)  # every path the server and its probes wrote
    token_opens: list[str] = field(default_factory=list)


def build_archive(venv: Path, render: rendered.Render, store: Path, workdir: Path, behaviour: dict) -> None:
    workdir.mkdir()
    (workdir / "behaviour.json").write_text(json.dumps(behaviour))
    weights = workdir / "tiny.pt"
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, torch; sys.path.insert(0, sys.argv[1]); from tiny_model import Tiny; "
            "torch.manual_seed(0); torch.save(Tiny().state_dict(), sys.argv[2])",
            str(ASSETS),
            str(weights),
        ],
        check=True,
    )
    subprocess.run(
        [
            str(venv / "bin" / "torch-model-archiver"),
            f"--model-name={render.model}",
            "--version=1.0",
            f"--model-file={ASSETS / 'tiny_model.py'}",
            f"--serialized-file={weights}",
            f"--handler={ASSETS / 'tiny_handler.py'}",
            f"--extra-files={workdir / 'behaviour.json'}",
            f"--export-path={store}",
        ],
        check=True,
    )


def local_properties(text: str, ports: dict[str, int]) -> str:
    """The rendered config.properties with only its addresses changed, plus free ports for
    TorchServe's gRPC servers, which listen on 7070/7071 unless told otherwise (two runs on one
    machine would collide there)."""
    changed = {
        "inference_address": f"http://127.0.0.1:{ports['http']}",
        "management_address": f"http://127.0.0.1:{ports['management']}",
        "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
    }
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={changed[key]}" if key in changed else line)
    lines += [f"grpc_inference_port={harness.free_port()}", f"grpc_management_port={harness.free_port()}"]
    return "\n".join(lines) + "\n"


def model_store(render: rendered.Render) -> str:
    props = dict(line.split("=", 1) for line in render.config["config.properties"].splitlines())
    return props["model_store"]


def run_torchserve(venv: Path, render: rendered.Render, tmp: Path, behaviour: dict, watch) -> Run:
    rendered_ports = {p["name"]: p["containerPort"] for p in render.container["ports"]}
    ports = {name: harness.free_port() for name in rendered_ports}
    files = writes.PodFiles(tmp / "root", render.writable(), tmp, frozenset({behaviour["loaded_marker"]}))
    store = model_store(render)
    files.make(IMAGE_WORKDIR, IMAGE_HOME, torchserve.CONFIG_DIR, store)
    build_archive(venv, render, files.local(store), tmp / "archive", behaviour)
    pod_paths = (*files.writable, torchserve.CONFIG_DIR, store, IMAGE_WORKDIR, IMAGE_ENV["TEMP"])
    for name, text in render.config.items():
        local_text = local_properties(text, ports) if name == "config.properties" else text
        files.local(f"{torchserve.CONFIG_DIR}/{name}").write_text(files.localize(local_text, pod_paths))

    def local(arg: str) -> str:
        arg = files.localize(arg, pod_paths)
        for name, port in rendered_ports.items():
            arg = arg.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{ports[name]}/")
        return arg

    probe_log = tmp / "probes.strace"

    def rewrite_exec(cmd: list[str]) -> list[str]:
        return writes.traced([str(venv / "bin" / cmd[0]), *(local(a) for a in cmd[1:])], probe_log, append=True)

    c = render.container
    command = [str(venv / "bin" / c["command"][0]), *(local(a) for a in c["command"][1:] + c["args"])]
    image_env = [{"name": k, "value": v} for k, v in IMAGE_ENV.items()]
    rendered_env = [{**e, "value": local(e["value"])} for e in image_env + c.get("env", []) if "value" in e]
    env = server_env(venv, rendered_env, {"HOME": str(files.local(IMAGE_HOME))})
    workdir = files.local(IMAGE_WORKDIR)
    prober = harness.Prober(c, ports, rewrite_exec, env=env, cwd=workdir)
    run = Run(files=files)
    log = tmp / "torchserve.strace"
    with harness.started(writes.traced(command, log), env=env, cwd=workdir, log=tmp / "torchserve.log") as proc:
        watch(run, proc, prober, ports, Path(behaviour["loaded_marker"]), render)
    run.written = writes.written_paths(log, workdir) | writes.written_paths(probe_log, workdir)
    run.token_opens = [*writes.opened(log, writes.TOKEN_DIR), *writes.opened(probe_log, writes.TOKEN_DIR)]
    return run


def sample(prober: harness.Prober, ports: dict[str, int], marker: Path) -> Sample:
    status, _ = harness.http_get(ports["http"], "/ping", timeout=2)
    probes = prober.all()
    # Read after the probes: the handler writes the marker before its worker turns READY, so a
    # sample without it saw the model loading through every probe.
    return Sample(marker.exists(), status == 200, probes)


def watch_load_then_serve(run: Run, proc, prober, ports, marker: Path, render: rendered.Render) -> None:
    deadline = time.monotonic() + LOAD_SECONDS + 90
    while time.monotonic() < deadline and proc.alive():
        s = sample(prober, ports, marker)
        run.samples.append(s)
        if s.loaded and all(s.probes.values()):
            break
        time.sleep(0.5)
    assert run.samples and run.samples[-1].loaded, f"the tiny model never loaded:\n{proc.tail()}"
    metrics, metrics_path = ports[render.scrape["port"]], render.scrape["path"]
    run.idle_metrics = harness.scrape(metrics, metrics_path)
    method, path, body = jobs.load_request("torchserve", render.model, None, None)
    assert method == "POST"
    payload = json.dumps(body).encode()
    run.request_codes = harness.bounded_requests(
        lambda: harness.http_post_json(ports["http"], path, payload, timeout=10), REQUESTS, REQUEST_SECONDS
    )
    # TorchServe updates its frontend metrics as each response goes out; allow it a moment.
    used = set(render.used_metrics())
    harness.wait_for(lambda: used <= set(harness.scrape(metrics, metrics_path)), 10)
    run.metrics = harness.scrape(metrics, metrics_path)


def watch_failing(run: Run, proc, prober, ports, marker: Path, render: rendered.Render) -> None:
    deadline = time.monotonic() + FAILING_WATCH_SECONDS
    while time.monotonic() < deadline and proc.alive():
        run.samples.append(sample(prober, ports, marker))
        time.sleep(1)


@pytest.fixture(scope="module", params=RENDERS, ids=[r.id for r in RENDERS])
def render(request) -> rendered.Render:
    return request.param


@pytest.fixture(scope="module")
def serving(servers_venv, java, strace, render, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("torchserve-serving")
    behaviour = {"load_seconds": LOAD_SECONDS, "loaded_marker": str(tmp / "loaded")}
    return run_torchserve(servers_venv, render, tmp, behaviour, watch_load_then_serve)


@pytest.fixture(scope="module")
def failing(servers_venv, java, strace, render, tmp_path_factory, serving) -> Run:
    # After `serving`: TorchServe instances must not overlap (worker sockets live in java.io.tmpdir,
    # set per run here, but the ports of a stopped run are released only when it has exited).
    tmp = tmp_path_factory.mktemp("torchserve-failing")
    behaviour = {"fail": True, "loaded_marker": str(tmp / "loaded")}
    return run_torchserve(servers_venv, render, tmp, behaviour, watch_failing)


def test_ping_answers_healthy_before_the_model_has_loaded(serving):
    """Why /ping cannot be the readiness probe: the frontend says Healthy while the model loads."""
    assert any(s.ping and not s.loaded for s in serving.samples)


def test_rendered_probes_fail_while_the_model_loads(serving):
    loading = [s.probes for s in serving.samples if not s.loaded and s.ping]
    assert loading and not any(any(p.values()) for p in loading)


def test_rendered_probes_pass_once_the_model_serves(serving):
    assert serving.samples[-1].probes == dict.fromkeys(("startupProbe", "readinessProbe", "livenessProbe"), True)


def test_rendered_probes_never_pass_when_the_model_never_loads(failing):
    assert any(s.ping for s in failing.samples), "the frontend never came up: nothing was shown"
    assert not any(any(s.probes.values()) for s in failing.samples)


def test_load_generator_requests_all_succeed(serving):
    """The load generator's body satisfies seed 000's T5 handler contract (languages ro/fr/de/en)."""
    assert serving.request_codes == [200] * REQUESTS


def test_used_metrics_are_absent_until_the_first_inference(serving, render):
    """TorchServe creates its ts_* series on the first inference (infra/signals.py EXPORTED_WHEN_IDLE)."""
    assert not set(render.used_metrics()) & set(serving.idle_metrics)


def test_catalog_says_torchserve_series_are_missing_before_the_first_inference():
    assert signals.EXPORTED_WHEN_IDLE["torchserve"] is False


def test_used_metrics_are_exported_with_the_catalog_type(serving, render):
    assert {name: serving.metrics.get(name) for name in render.used_metrics()} == render.used_metrics()


def test_serving_writes_only_to_writable_mounts(serving):
    """The server and its probes, traced while the model loads and serves, write only to the pod's
    emptyDirs: its root file system is read-only."""
    assert serving.files.outside_writable(serving.written) == []


def test_a_model_that_never_loads_writes_only_to_writable_mounts(failing):
    assert failing.files.outside_writable(failing.written) == []


def test_every_scratch_dir_the_pod_mounts_is_written(serving, render):
    """No mount for nothing: the server writes to each scratch emptyDir (/dev/shm is every serving pod's)."""
    used = {
        m
        for m in render.writable()
        if any(writes.under(serving.files.pod_path(w) or "", (m,)) for w in serving.written)
    }
    assert used == set(render.writable()) - {"/dev/shm"}


def test_the_server_never_opens_a_kubernetes_token(serving):
    """Why the pod mounts none (automountServiceAccountToken: false)."""
    assert serving.token_opens == []
