"""Running real servers in tests: ports, process groups, kubelet-style probes, bounded request
loops and Prometheus scrapes. Everything binds and calls 127.0.0.1 only.

Probes are run the way the kubelet runs them: ``httpGet`` is a GET on the pod's port and path
whose answer counts as success for a status of 200 to 399 (a timeout or a refused connection is a
failure); ``exec`` runs the command and succeeds on exit status 0 within ``timeoutSeconds``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


@dataclass
class Process:
    """A server started in its own process group; :meth:`stop` ends the whole group by its id."""

    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        pgid = self.popen.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def started(cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Iterator[Process]:
    """Start ``cmd`` in a new session (its own process group) and always stop the group after."""
    with log.open("wb") as out:
        popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc = Process(popen, log)
    try:
        yield proc
    finally:
        proc.stop()


def http_get(port: int, path: str, timeout: float) -> tuple[int | None, bytes]:
    """(status, body) of a GET on 127.0.0.1; status None when nothing answered in time."""
    try:
        with urllib.request.urlopen(f"http://{LOCALHOST}:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, TimeoutError):
        return None, b""


def http_post_json(port: int, path: str, body: bytes, timeout: float) -> int | None:
    request = urllib.request.Request(
        f"http://{LOCALHOST}:{port}{path}", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, TimeoutError):
        return None


@dataclass(frozen=True)
class Prober:
    """Runs a rendered container's probes here: named ports map to local ports, and ``exec``
    commands go through ``rewrite_exec`` (the local interpreter and ports, said by the caller)."""

    container: dict
    ports: dict[str, int]  # container port name -> local port
    rewrite_exec: Callable[[list[str]], list[str]] = lambda cmd: cmd
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None  # the container's working directory, where the kubelet runs exec probes

    def probe(self, kind: str) -> bool:
        spec = self.container[kind]
        timeout = float(spec.get("timeoutSeconds", 1))
        if "httpGet" in spec:
            get = spec["httpGet"]
            port = get["port"] if isinstance(get["port"], int) else self.ports[get["port"]]
            status, _ = http_get(port, get.get("path", "/"), timeout)
            return status is not None and 200 <= status < 400
        if "exec" in spec:
            try:
                done = subprocess.run(
                    self.rewrite_exec(list(spec["exec"]["command"])),
                    env=self.env or None,
                    cwd=self.cwd,
                    capture_output=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                return False
            return done.returncode == 0
        raise AssertionError(f"{kind}: a probe kind this harness does not run: {sorted(spec)}")

    def all(self) -> dict[str, bool]:
        return {kind: self.probe(kind) for kind in ("startupProbe", "readinessProbe", "livenessProbe")}


def wait_for(condition: Callable[[], bool], seconds: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def bounded_requests(send: Callable[[], int | None], count: int, seconds: float) -> list[int | None]:
    """At most ``count`` requests, one at a time, stopping when ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    out: list[int | None] = []
    while len(out) < count and time.monotonic() < deadline:
        out.append(send())
    return out


def exported(text: str) -> dict[str, str]:
    """Every exported series name -> its ``# TYPE``, read with prometheus_client's parser.

    Only families with at least one sample count: a ``# TYPE`` line alone is no series (TorchServe
    prints some before their first value). The parser names a counter's family without
    ``_total`` and a histogram's without its ``_bucket``/``_sum``/``_count``; both the family and
    its sample names map to the type, so a name is found whichever form a query uses.
    """
    out: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        if not family.samples:
            continue
        out[family.name] = family.type
        for sample in family.samples:
            out.setdefault(sample.name, family.type)
    return out


def scrape(port: int, path: str) -> dict[str, str]:
    status, body = http_get(port, path, timeout=10)
    assert status == 200, f"GET {path} on the metrics port answered {status}"
    return exported(body.decode())
