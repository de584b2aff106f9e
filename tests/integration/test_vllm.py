"""vLLM 0.11.0 (the stack's ``vllm/vllm-openai:v0.11.0``) on what the stacks render: the rendered
args through vLLM's own parser and validation and into its engine config, its FastAPI app
(``build_app``) answering the rendered probes, and its Prometheus stat logger
(vllm/v1/metrics/loggers.py) exporting every metric the HPAs and the dashboard read, scraped on
the rendered PodMonitoring endpoint. The wheel runs from .venv-servers without its dependencies'
pins (tests/integration/servers_env.py); its engine cannot run here (no GPU, and its CUDA
kernels need torch 2.8.0), so ``assets/vllm_app.py`` answers the app's health check in its place
and records one scheduler step and one finished request with vLLM's own stats classes.

Changed to run here, and nothing else: ``--model`` is a tiny local Mistral-shaped config written
by the test instead of the Hugging Face id; ``--host`` 127.0.0.1 and ``--port`` a free port
instead of 0.0.0.0:8000; the container's emptyDir mounts (the /data cache, /tmp) and the image's
working directory /vllm-workspace are directories of the test's (``writes.PodFiles``), in the env
too; the app runs under ``strace``, which records every path it writes
(tests/integration/writes.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import signals
from tests.integration import harness, rendered, servers_env, writes
from tests.integration.servers import server_env, uid_without_passwd_entry
from workloads import vllm

pytestmark = pytest.mark.integration

APP = Path(__file__).parent / "assets" / "vllm_app.py"
RENDERS = rendered.renders("vllm")
# The image's working directory, which the pod does not set (vllm-project/vllm docker/Dockerfile,
# the vllm-base stage: `WORKDIR /vllm-workspace`; read at a later commit than v0.11.0's).
IMAGE_WORKDIR = "/vllm-workspace"
# Shaped like a Mistral-7B config (architecture, grouped KV heads, no sliding window) but tiny:
# vLLM reads it to build its model config; no weights are loaded.
TINY_CONFIG = {
    "architectures": ["MistralForCausalLM"],
    "model_type": "mistral",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "num_hidden_layers": 1,
    "vocab_size": 256,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "sliding_window": None,
    "torch_dtype": "bfloat16",
}


@dataclass
class Run:
    report: dict
    probes_alive: dict[str, bool]
    probes_dead: dict[str, bool]
    metrics: dict[str, str]
    files: writes.PodFiles
    written: set[str]  # every path the app wrote (traced)
    token_opens: list[str]


def local_args(args: list[str], model_dir: Path, port: int) -> list[str]:
    changed = {"--model": str(model_dir), "--host": "127.0.0.1", "--port": str(port)}
    return [f"{flag}={changed[flag]}" if (flag := a.split("=", 1)[0]) in changed else a for a in args]


def local_env(container: dict, tmp: Path) -> list[dict]:
    return [{**e, "value": e["value"].replace(vllm.CACHE_DIR, str(tmp / "data"))} for e in container.get("env", [])]


@pytest.fixture(scope="module", params=RENDERS, ids=[r.id for r in RENDERS])
def render(request) -> rendered.Render:
    return request.param


@pytest.fixture(scope="module")
def run(servers_venv, strace, render, tmp_path_factory) -> Run:
    tmp = tmp_path_factory.mktemp("vllm")
    model_dir = tmp / "tiny-mistral"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(TINY_CONFIG))
    port = harness.free_port()
    report, dead = tmp / "report.json", tmp / "engine-dead"
    files = writes.PodFiles(tmp / "root", render.writable(), tmp, frozenset({str(report), str(dead)}))
    files.make(IMAGE_WORKDIR)
    c = render.container
    command = [
        str(servers_env.python()),
        str(APP),
        f"--report={report}",
        f"--dead-flag={dead}",
        "--",
        *local_args(c["args"], model_dir, port),
    ]
    rendered_env = [
        {**e, "value": files.localize(e["value"], files.writable)} for e in c.get("env", []) if "value" in e
    ]
    env = server_env(servers_venv, rendered_env, {"HF_HUB_OFFLINE": "1"})
    prober = harness.Prober(c, {"http": port})
    log, workdir = tmp / "vllm.strace", files.local(IMAGE_WORKDIR)
    with harness.started(writes.traced(command, log), env=env, cwd=workdir, log=tmp / "vllm.log") as proc:
        up = harness.wait_for(lambda: report.exists() and prober.probe("readinessProbe"), 180)
        assert up, f"vLLM's app never answered:\n{proc.tail()}"
        alive = prober.all()
        metrics = harness.scrape(port, render.scrape["path"])
        dead.write_text("dead")
        dead_probes = prober.all()
    return Run(
        json.loads(report.read_text()),
        alive,
        dead_probes,
        metrics,
        files,
        writes.written_paths(log, workdir),
        writes.opened(log, writes.TOKEN_DIR),
    )


def test_rendered_args_parse_and_validate_with_vllm_0_11_0(run, render):
    assert (run.report["vllm"], run.report["served_model_name"]) == (
        "0.11.0",
        [next(a.split("=", 1)[1] for a in render.container["args"] if a.startswith("--served-model-name="))],
    )


def test_pinned_image_and_tested_wheel_are_the_same_vllm_version():
    assert vllm.IMAGE.rsplit(":v", 1)[1] == servers_env.VLLM.split("==")[1]


def test_engine_config_keeps_the_rendered_gpu_settings(run, render):
    args = dict(a.split("=", 1) for a in render.container["args"])
    assert (run.report["tensor_parallel_size"], run.report["gpu_memory_utilization"]) == (
        int(args["--tensor-parallel-size"]),
        float(args["--gpu-memory-utilization"]),
    )


def test_rendered_probes_pass_while_the_engine_is_healthy(run):
    assert run.probes_alive == dict.fromkeys(("startupProbe", "readinessProbe", "livenessProbe"), True)


def test_rendered_probes_fail_once_the_engine_is_dead(run):
    assert run.probes_dead == dict.fromkeys(("startupProbe", "readinessProbe", "livenessProbe"), False)


def test_catalog_says_vllm_series_exist_before_the_first_request():
    assert signals.EXPORTED_WHEN_IDLE["vllm"] is True


def test_used_metrics_are_exported_with_the_catalog_type(run, render):
    assert {n: run.metrics.get(n) for n in render.used_metrics()} == render.used_metrics()


def test_hidden_kv_cache_gauge_is_not_exported(run):
    """vLLM 0.11 hides vllm:gpu_cache_usage_perc unless --show-hidden-metrics-for-version."""
    assert (run.report["show_hidden_metrics"], "vllm:gpu_cache_usage_perc" in run.metrics) == (False, False)


def test_vllm_cache_root_is_the_rendered_volume_path(run, render, tmp_path_factory):
    rendered_root = next(e["value"] for e in render.container["env"] if e["name"] == "VLLM_CACHE_ROOT")
    assert run.report["vllm_cache_root"].endswith(rendered_root.removeprefix(vllm.CACHE_DIR))


def test_wheel_is_built_on_the_cuda_the_stack_assumes():
    kernels = (servers_env.site_packages() / "vllm" / "_C.abi3.so").read_bytes()
    assert re.findall(rb"Cuda compilation tools, release (\d+\.\d+)", kernels)[0].decode() == vllm.IMAGE_CUDA


def _as_uid(uid: int, env: dict[str, str], imports: str, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` as ``uid`` after ``imports`` ran as root (this machine's interpreter lives
    under /root, which that uid cannot read; the call under test runs as the uid)."""
    program = f"import os\n{imports}\nos.setgid({uid})\nos.setuid({uid})\n{code}"
    return subprocess.run(
        [str(servers_env.python()), "-c", program], env=env, capture_output=True, text=True, timeout=120
    )


INDUCTOR = "from torch._inductor.runtime.cache_dir_utils import cache_dir"


@pytest.fixture
def nobody_uid() -> int:
    if os.geteuid() != 0:
        pytest.skip("switching to a uid with no passwd entry needs root (CI runs as root)")
    return uid_without_passwd_entry(1000)


@pytest.fixture
def shared_dir():
    """A directory the unprivileged uid can reach (pytest's own tmp dirs are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="wt-vllm-uid-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_getuser_raises_for_a_uid_without_passwd_entry_user_or_logname(servers_venv, nobody_uid, shared_dir):
    """The image's situation, and the call torch 2.8's inductor makes (the torch 2.13 here guards
    it, so the image's crash itself is not reproduced: kserve#5666, vllm#44548 report it)."""
    done = _as_uid(
        nobody_uid, {"PATH": "/usr/bin:/bin", "HOME": str(shared_dir)}, "import getpass", "getpass.getuser()"
    )
    assert done.returncode != 0 and ("KeyError" in done.stderr or "OSError" in done.stderr), done.stderr


def test_rendered_env_names_the_user_for_that_uid(servers_venv, nobody_uid, render, shared_dir):
    env = {e["name"]: e["value"] for e in local_env(render.container, shared_dir)}
    done = _as_uid(nobody_uid, {"PATH": "/usr/bin:/bin", **env}, "import getpass", "print(getpass.getuser())")
    assert (done.returncode, done.stdout.strip()) == (0, vllm.USER), done.stderr


def test_torch_inductor_uses_the_rendered_cache_dir_as_that_uid(servers_venv, nobody_uid, render, shared_dir):
    env = {e["name"]: e["value"] for e in local_env(render.container, shared_dir)}
    done = _as_uid(nobody_uid, {"PATH": "/usr/bin:/bin", **env}, INDUCTOR, "print(cache_dir())")
    assert (done.returncode, done.stdout.strip()) == (0, env["TORCHINDUCTOR_CACHE_DIR"]), done.stderr


def test_the_app_writes_only_to_writable_mounts(run):
    """vLLM's parser, engine config, stat logger and app, traced, write only to the pod's emptyDirs
    (the cache volume and /tmp): its root file system is read-only."""
    assert run.files.outside_writable(run.written) == []


def test_every_scratch_dir_the_pod_mounts_is_written(run, render):
    """No mount for nothing: the cache volume and /tmp are both written (/dev/shm is every serving pod's)."""
    used = {m for m in render.writable() if any(writes.under(run.files.pod_path(w) or "", (m,)) for w in run.written)}
    assert used == set(render.writable()) - {"/dev/shm"}


def test_the_server_never_opens_a_kubernetes_token(run):
    """Why the pod mounts none (automountServiceAccountToken: false)."""
    assert run.token_opens == []
