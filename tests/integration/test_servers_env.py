"""The servers virtualenv holds what requirements-servers.txt pins, and lacks only what it says."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.integration import servers_env

pytestmark = pytest.mark.integration


def test_pip_check_reports_only_vllms_requirements_left_out_on_purpose(servers_venv):
    done = subprocess.run([str(servers_env.python()), "-m", "pip", "check"], capture_output=True, text=True)
    missing = re.findall(r"^vllm 0\.11\.0 requires ([^,]+), which is not installed\.$", done.stdout, re.M)
    pinned = re.findall(r"^vllm 0\.11\.0 has requirement ([^,]+), but you have torch 2\.13\.0", done.stdout, re.M)
    other = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith("vllm 0.11.0 ")]
    assert (sorted(missing), pinned, other) == (sorted(servers_env.VLLM_LEFT_OUT), [servers_env.VLLM_TORCH], [])


def test_servers_venv_has_the_pinned_server_versions(servers_venv):
    code = (
        "import importlib.metadata as m; "
        "print(*(m.version(d) for d in ('torchserve', 'torch-model-archiver', 'nvidia-pytriton', 'vllm', 'torch')))"
    )
    done = subprocess.run([str(servers_env.python()), "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0.12.0", "0.12.0", "0.7.0", "0.11.0", "2.13.0+cpu"]
