"""Fixtures shared by the server runs: the servers virtualenv, Java, the environment a server
starts with, and the uid with no passwd entry."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from tests.integration import servers_env


@pytest.fixture(scope="session")
def servers_venv() -> Path:
    """``.venv-servers``, built once if missing or stale (``.ci/run`` builds it before the tests)."""
    return servers_env.ensure()


@pytest.fixture(scope="session")
def java() -> str:
    found = shutil.which("java")
    assert found, "TorchServe needs Java 17: apt-get install -y openjdk-17-jre-headless (.ci/run does)"
    return found


@pytest.fixture(scope="session")
def strace() -> str:
    """What the write-path tests trace servers with (tests/integration/writes.py)."""
    found = shutil.which("strace")
    assert found, "the write-path tests trace the servers with strace: apt-get install -y strace (.ci/run does)"
    return found


def server_env(venv: Path, rendered_env: list[dict] | None, extra: dict[str, str]) -> dict[str, str]:
    """The container's rendered ``env`` (plain values) on top of a minimal host environment, with
    the servers virtualenv first on PATH as the image's own interpreter is."""
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "JAVA_HOME", "SSL_CERT_FILE")}
    env["PATH"] = f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    env.update({e["name"]: e["value"] for e in rendered_env or [] if "value" in e})
    env.update(extra)
    return env


def uid_without_passwd_entry(preferred: int) -> int:
    """``preferred`` when this machine has no passwd entry for it, else the next uid that has none
    (the image's situation: vllm/vllm-openai has no entry for the stack's uid 1000)."""
    uid = preferred
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1
