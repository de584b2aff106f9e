"""TorchServe 0.12.0 (the stack's ``pytorch/torchserve:0.12.0-gpu``) run on what the stacks render.

Taken as rendered: the ConfigMap's ``config.properties`` and ``model_ready.py``, the container's
command, args and env, its three probes, its named ports, the PodMonitoring endpoint, and the
metric names the HPAs and the dashboard read. Changed to run here, and nothing else:

- ``inference_address``/``management_address``/``metrics_address``: 127.0.0.1 on free ports
  instead of 0.0.0.0:8080/8081/8082 (and the exec probe's management URL likewise), and
  ``grpc_inference_port``/``grpc_management_port`` added on free ports (default 7070/7071);
- ``model_store``: the test's store holding a tiny ``torch.nn.Linear`` archive under the rendered
  model name, built here with torch-model-archiver 0.12.0;
- the ConfigMap's mount (/etc/torchserve) is the test's directory; ``torchserve`` and the probe's
  ``python`` are the servers virtualenv's (the image's /home/venv/bin); ``TEMP`` (the image sets
  /home/model-server/tmp) and ``TMPDIR`` point into the test's directory.

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
from tests.integration import harness, rendered
from tests.integration.servers import server_env
from workloads import jobs

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).parent / "assets" / "torchserve"
RENDERS = rendered.renders("torchserve")
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
    samples: list[Sample] = field(default_factory=list)
    idle_metrics: dict[str, str] = field(default_factory=dict)
    request_codes: list[int | None] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)


def build_archive(venv: Path, render: rendered.Render, store: Path, behaviour: dict) -> None:
    workdir = store.parent / "archive"
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


def local_properties(text: str, ports: dict[str, int], store: Path) -> str:
    """The rendered config.properties with only addresses and the model store changed, plus free
    ports for TorchServe's gRPC servers, which listen on 7070/7071 unless told otherwise (two runs
    on one machine would collide there)."""
    changed = {
        "inference_address": f"http://127.0.0.1:{ports['http']}",
        "management_address": f"http://127.0.0.1:{ports['management']}",
        "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
        "model_store": str(store),
    }
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={changed[key]}" if key in changed else line)
    lines += [f"grpc_inference_port={harness.free_port()}", f"grpc_management_port={harness.free_port()}"]
    return "\n".join(lines) + "\n"


def run_torchserve(venv: Path, render: rendered.Render, tmp: Path, behaviour: dict, watch) -> Run:
    rendered_ports = {p["name"]: p["containerPort"] for p in render.container["ports"]}
    ports = {name: harness.free_port() for name in rendered_ports}
    store, etc, temp = tmp / "store", tmp / "etc", tmp / "temp"
    for d in (store, etc, temp):
        d.mkdir()
    build_archive(venv, render, store, behaviour)
    config_dir = "/etc/torchserve"
    for name, text in render.config.items():
        (etc / name).write_text(local_properties(text, ports, store) if name == "config.properties" else text)

    def local(arg: str) -> str:
        arg = arg.replace(config_dir, str(etc))
        for name, port in rendered_ports.items():
            arg = arg.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{ports[name]}/")
        return arg

    def rewrite_exec(cmd: list[str]) -> list[str]:
        return [str(venv / "bin" / cmd[0]), *(local(a) for a in cmd[1:])]

    c = render.container
    command = [str(venv / "bin" / c["command"][0]), *(local(a) for a in c["command"][1:] + c["args"])]
    env = server_env(venv, c.get("env"), {"TEMP": str(temp), "TMPDIR": str(temp)})
    prober = harness.Prober(c, ports, rewrite_exec)
    run = Run()
    with harness.started(command, env=env, cwd=tmp, log=tmp / "torchserve.log") as proc:
        watch(run, proc, prober, ports, Path(behaviour["loaded_marker"]), render)
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
def serving(servers_venv, java, render, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("torchserve-serving")
    behaviour = {"load_seconds": LOAD_SECONDS, "loaded_marker": str(tmp / "loaded")}
    return run_torchserve(servers_venv, render, tmp, behaviour, watch_load_then_serve)


@pytest.fixture(scope="module")
def failing(servers_venv, java, render, tmp_path_factory, serving) -> Run:
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
