"""The virtualenv the integration tests run the real model servers from (``.venv-servers``).

``python -m tests.integration.servers_env`` builds it, or does nothing when it is up to date:
``python3 -m venv``, ``pip install -r requirements-servers.txt``, then ``vllm==0.11.0`` with
``--no-deps`` (its own pins would replace the CPU torch 2.13.0 with torch 2.8.0 and CUDA). A stamp
file holds a hash of what it was built from; a changed requirements file rebuilds it. ``.ci/run``
calls this before the tests; the tests call :func:`ensure` too, so the README's test command runs
them on a fresh clone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
REQUIREMENTS = PROJECT_DIR / "requirements-servers.txt"
VENV = Path(os.environ.get("GKE_GPU_SERVING_SERVERS_VENV", PROJECT_DIR / ".venv-servers"))
STAMP = VENV / ".built-from"
# The stack's vLLM image is vllm/vllm-openai:v0.11.0 (workloads/vllm.py); tests check they agree.
VLLM = "vllm==0.11.0"
# vLLM's requirements left out on purpose (what `pip check` reports in .venv-servers): the engine
# (ray, xformers, numba, compiled kernels' torch 2.8.0 and its audio/vision builds), structured
# output and tokenizer plugins, and multimodal input. Its parser, app and stat loggers import none.
VLLM_LEFT_OUT = [
    "compressed-tensors",
    "depyf",
    "einops",
    "lark",
    "llguidance",
    "lm-format-enforcer",
    "mistral-common",
    "ninja",
    "numba",
    "opencv-python-headless",
    "outlines-core",
    "python-json-logger",
    "ray",
    "scipy",
    "sentencepiece",
    "tiktoken",
    "torchaudio",
    "torchvision",
    "xformers",
    "xgrammar",
]
VLLM_TORCH = "torch==2.8.0"


def python() -> Path:
    return VENV / "bin" / "python"


def bin_path(name: str) -> Path:
    return VENV / "bin" / name


def site_packages() -> Path:
    return VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def fingerprint() -> str:
    h = hashlib.sha256(REQUIREMENTS.read_bytes())
    h.update(VLLM.encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def up_to_date() -> bool:
    return python().exists() and STAMP.exists() and STAMP.read_text().strip() == fingerprint()


def ensure() -> Path:
    """Build ``.venv-servers`` unless it is up to date; returns its path."""
    if up_to_date():
        return VENV
    if VENV.exists():
        shutil.rmtree(VENV)
    pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    subprocess.run([*pip, "--no-deps", VLLM], check=True)
    STAMP.write_text(fingerprint() + "\n")
    return VENV


if __name__ == "__main__":
    print(ensure())
