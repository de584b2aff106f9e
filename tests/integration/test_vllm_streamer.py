"""``vllm.loadFormat: runai_streamer`` as rendered (the ``fuse-cache`` variant's ``llm-stream``
model, tests/reality/captures.py) through vLLM 0.11.0's own parser, validation and engine
arguments: the format is one vLLM knows, it selects the Run:ai streamer loader, and vLLM treats
the rendered ``gs://`` reference as object storage. Changed to run here: the env's cache
directory (the pod's emptyDir) is the test's; the args are as rendered.
Not run: the streamer itself (it needs the bucket and the runai-model-streamer-gcs package, which
the stack's config rule requires of the image)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration import servers_env
from tests.integration.servers import server_env
from tests.reality.captures import variant_capture
from workloads import vllm

pytestmark = pytest.mark.integration

ASSET = Path(__file__).parent / "assets" / "vllm_parse.py"


def _container(name: str) -> dict:
    capture = variant_capture("fuse-cache")
    dep = capture.one("kubernetes:apps/v1:Deployment", f"model-{name}-deployment")
    return dep.inputs["spec"]["template"]["spec"]["containers"][0]


def _args(name: str) -> list[str]:
    return _container(name)["args"]


def _env(name: str, tmp: Path) -> list[dict]:
    """The rendered env with its cache directory (the pod's emptyDir) moved under ``tmp``."""
    return [
        {**e, "value": e["value"].replace(vllm.CACHE_DIR, str(tmp))}
        for e in _container(name).get("env", [])
        if "value" in e
    ]


@pytest.fixture(scope="module")
def report(servers_venv, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("vllm-parse") / "report.json"
    env = server_env(servers_venv, _env("llm-stream", out.parent), {})
    done = subprocess.run(
        [str(servers_env.python()), str(ASSET), str(out), *_args("llm-stream")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_rendered_load_format_selects_the_run_ai_streamer_loader(report):
    assert (report["vllm"], report["load_format"], report["loader"]) == (
        "0.11.0",
        "runai_streamer",
        "RunaiModelStreamerLoader",
    )


def test_vllm_treats_the_rendered_model_as_object_storage(report):
    assert (report["model"].startswith("gs://"), report["object_storage"]) == (True, True)
