"""What each model server needs, as data: image, command, ports, probes, metrics endpoint,
volumes. One ``spec()`` per server lives in its own module (torchserve, triton, vllm, predictor);
:mod:`workloads.serving` wires any of them into a Deployment, Service and PodDisruptionBudget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.coldstart import FuseMount
from infra.config import ModelConfig
from infra.config.values import bucket_ref
from workloads.drivers import DriverChoice
from workloads.pod import HttpCheck, PodParts, Probes, Scratch


@dataclass(frozen=True)
class Port:
    name: str
    port: int


@dataclass(frozen=True)
class Source:
    """A model source with bucket keys resolved: ``uri`` is what the server reads
    (``gs://<physical-bucket>/path`` or the Hugging Face id), ``bucket``/``path`` what FUSE mounts."""

    uri: pulumi.Input[str]
    bucket: pulumi.Input[str] | None = None
    path: str = ""
    hf_id: str | None = None
    # The FUSE mount's file cache (infra/coldstart.py); empty: no cache.
    cache: FuseMount = field(default_factory=FuseMount)


@dataclass
class ServerSpec:
    image: str
    command: list[str]
    args: list[pulumi.Input[str]]
    ports: tuple[Port, ...]
    probes: Probes
    metrics: HttpCheck | None
    shutdown_seconds: int
    # Where the server writes, each an emptyDir (pod.scratch_sizes): its root file system is read-only.
    scratch: tuple[Scratch, ...]
    env: list[k8s.core.v1.EnvVarArgs] = field(default_factory=list)
    parts: PodParts = field(default_factory=PodParts)
    # A config file the server reads, rendered into a ConfigMap and mounted at config_dir.
    config_files: dict[str, str] = field(default_factory=dict)
    config_dir: str | None = None
    # Ports the Service exposes (default: all but metrics-only ports stay internal too).
    service_ports: tuple[Port, ...] | None = None
    # The GKE-managed driver an Autopilot pod selects for this image (None: Autopilot's default).
    driver: DriverChoice | None = None

    def serving_port_names(self) -> list[str]:
        """Ports clients call: all but a metrics-only port (vLLM serves metrics on its API port)."""
        metrics = self.metrics.port if self.metrics else None
        return [p.name for p in self.ports if p.name != metrics or p == self.ports[0]]

    def port(self, name: str) -> int:
        return next(p.port for p in self.ports if p.name == name)


def startup_seconds(model: ModelConfig, default: int) -> int:
    return model.startup_seconds or default


def env(name: str, value: pulumi.Input[str]) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(name=name, value=value)


def resolve_uri(uri: str, buckets: dict[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """``gs://{key}/path`` -> ``gs://<physical bucket>/path``; anything else unchanged."""
    ref = bucket_ref(uri)
    if ref is None:
        return uri
    rest = uri[len(f"gs://{{{ref}}}") :]
    return pulumi.Output.concat("gs://", buckets[ref], rest)


def source_of(uri: str, buckets: dict[str, pulumi.Input[str]]) -> Source:
    if uri.startswith("hf://"):
        return Source(uri=uri, hf_id=uri[len("hf://") :])
    ref = bucket_ref(uri)
    bucket = buckets[ref] if ref is not None else uri[len("gs://") :].split("/", 1)[0]
    path = uri.split("://", 1)[1].partition("/")[2].strip("/")
    return Source(uri=resolve_uri(uri, buckets), bucket=bucket, path=path)
