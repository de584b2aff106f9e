"""Run the real Pulumi program in-process under the SDK's mock runtime, and capture what it does.

This is what makes a plan possible with no cloud account, no Pulumi CLI and no network: the
Pulumi SDK's ``set_mocks`` replaces the engine, :class:`PlanMocks` fills in the values providers
would compute (a cluster endpoint, a service-account email, a random suffix) and answers the
data-source invokes, and :class:`RecordingMonitor` keeps every registration with its options
(parent, provider, protect, retainOnDelete, deletedWith, dependsOn). The offline plan and the
tests share this module, so what the tests assert is what the plan shows.
"""

from __future__ import annotations

import base64
import json
import os
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
FAKE_PROJECT_NUMBER = "123456789012"
FAKE_ENDPOINT = "203.0.113.10"  # TEST-NET-3 (RFC 5737): never routable
# GKE's DNS endpoint has the form <uid>.<region>.gke.goog (container.v1 DNSEndpointConfig.endpoint).
FAKE_DNS_ENDPOINT = "gke-0123456789abcdef0123456789abcdef-123456789012.us-central1.gke.goog"
# What GKE writes to a Gateway's status.addresses once its load balancer exists: TEST-NET-2 (RFC 5737).
FAKE_GATEWAY_ADDRESS = "198.51.100.20"
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()
SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class Captured:
    """One resource registration as the engine would have received it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    deleted_with: str
    depends_on: tuple[str, ...]
    ignore_changes: tuple[str, ...]

    @property
    def is_kubernetes(self) -> bool:
        return self.custom and self.type.startswith("kubernetes:")


@dataclass
class Invoke:
    token: str
    args: dict[str, Any]
    # URNs the data source waits for (InvokeOutputOptions.depends_on), as the engine receives them.
    depends_on: tuple[str, ...] = ()


@dataclass
class Capture:
    """Everything one program run registered, invoked and exported."""

    resources: list[Captured] = field(default_factory=list)
    invokes: list[Invoke] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_token: str) -> list[Captured]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Captured:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_token} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Captured | None:
        return next((r for r in self.resources if r.urn == urn), None)

    def kubernetes_objects(self) -> list[Captured]:
        return [r for r in self.resources if r.is_kubernetes]


class PlanMocks(pulumi.runtime.Mocks):
    """Provider-computed outputs and data-source answers, deterministic and obviously fake."""

    def __init__(self, capture: Capture):
        self.capture = capture

    def new_resource(self, args: pmocks.MockResourceArgs):
        outputs = dict(args.inputs)
        typ, name, inputs = args.typ, args.name, args.inputs
        project = inputs.get("project", "mock-project")
        if typ == "gcp:container/cluster:Cluster":
            endpoints = dict(inputs.get("controlPlaneEndpointsConfig") or {})
            endpoints["dnsEndpointConfig"] = {**endpoints.get("dnsEndpointConfig", {}), "endpoint": FAKE_DNS_ENDPOINT}
            outputs.update(
                endpoint=FAKE_ENDPOINT,
                controlPlaneEndpointsConfig=endpoints,
                masterAuth={"clusterCaCertificate": FAKE_CA},
                selfLink=f"https://container.googleapis.com/v1/projects/{project}/locations/{inputs.get('location')}/clusters/{inputs.get('name')}",
            )
        elif typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            outputs.update(email=email, member=f"serviceAccount:{email}", uniqueId="100000000000000000001")
            outputs["name"] = f"projects/{project}/serviceAccounts/{email}"
        elif typ in ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"):
            outputs["selfLink"] = f"https://www.googleapis.com/compute/v1/projects/{project}/{name}"
        elif typ == "kubernetes:gateway.networking.k8s.io/v1:Gateway":
            outputs["status"] = {"addresses": [{"type": "IPAddress", "value": FAKE_GATEWAY_ADDRESS}]}
        elif typ == "random:index/randomId:RandomId":
            width = int(inputs.get("byteLength", 4))
            outputs.update(hex="a1b2c3d4e5f60718"[: width * 2], b64Url="obLD1A", dec="2712847316")
        elif typ == "gcp:storage/bucket:Bucket":
            outputs.update(
                url=f"gs://{inputs.get('name')}",
                selfLink=f"https://www.googleapis.com/storage/v1/b/{inputs.get('name')}",
            )
        resource_id = inputs.get("name") if isinstance(inputs.get("name"), str) else f"{name}-id"
        return [resource_id, outputs]

    def call(self, args: pmocks.MockCallArgs):
        self.capture.invokes.append(Invoke(args.token, dict(args.args)))
        if args.token == "gcp:organizations/getProject:getProject":
            pid = args.args.get("projectId", "mock-project")
            return {"projectId": pid, "number": FAKE_PROJECT_NUMBER, "name": pid}
        if args.token == "gcp:container/getCluster:getCluster":
            return {
                "name": args.args.get("name"),
                "location": args.args.get("location"),
                "project": args.args.get("project"),
                "endpoint": FAKE_ENDPOINT,
                "controlPlaneEndpointsConfigs": [{"dnsEndpointConfigs": [{"endpoint": FAKE_DNS_ENDPOINT}]}],
                "masterAuths": [{"clusterCaCertificate": FAKE_CA}],
                "workloadIdentityConfigs": [{"workloadPool": f"{args.args.get('project')}.svc.id.goog"}],
            }
        return {}


class RecordingMonitor(pmocks.MockMonitor):
    """A mock monitor that also records each registration's options and each invoke's dependencies.

    It tells the SDK it takes invoke dependencies (as the real engine does), so an invoke with
    ``depends_on`` arrives with them on the request; they are recorded, like a resource's.
    """

    def __init__(self, mocks: PlanMocks, capture: Capture):
        super().__init__(mocks)
        self.capture = capture

    def GetDeploymentInfo(self, request):  # noqa: N802 (gRPC method name)
        info = super().GetDeploymentInfo(request)
        info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON)
        return info

    def Invoke(self, request):  # noqa: N802 (gRPC method name)
        seen = len(self.capture.invokes)
        response = super().Invoke(request)
        if len(self.capture.invokes) > seen:
            self.capture.invokes[-1].depends_on = tuple(request.dependsOn)
        return response

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.capture.resources.append(
                Captured(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    inputs=_ints(rpc.deserialize_properties(request.object)),
                    parent=request.parent,
                    provider=request.provider,
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    deleted_with=request.deletedWith,
                    depends_on=tuple(request.dependencies),
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        return response


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[dict[str, str], list[str]]:
    """``Pulumi.<stack>.yaml`` as the engine hands config to a program: ``ns:key`` -> string.

    Structured values become JSON; ``secure:`` values cannot be decrypted offline and become a
    placeholder, listed as secret keys.
    """
    path = stack_file(stack, project_dir)
    if not path.exists():
        known = sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name}; known stacks: {', '.join(known)}")
    doc = read_stack_file(path)  # a malformed file raises ConfigError, one line
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{project_name(project_dir)}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[full] = SECRET_PLACEHOLDER
            secret_keys.append(full)
        elif isinstance(value, str):
            config[full] = value
        else:
            config[full] = json.dumps(value)
    return config, secret_keys


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]


def _ints(value: Any) -> Any:
    """Integral floats back to ints.

    The engine's wire format (protobuf ``Struct``) carries every number as a double; providers
    turn them back into integers, and so does this capture, so ``replicas: 1`` stays an integer
    for the schema checks and the plan shows ``0..3``, not ``0.0..3.0``.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def run_program(
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] | None = None,
    program: Path | None = None,
    project: str | None = None,
    capture: Capture | None = None,
) -> Capture:
    """Run ``__main__.py`` under mocks with ``config``; return what it registered and exported.

    Exceptions from the program (a :class:`~infra.config.ConfigError` included) propagate.
    """
    capture = capture if capture is not None else Capture()
    mocks = PlanMocks(capture)
    monitor = RecordingMonitor(mocks, capture)
    project = project or project_name()
    # Absolute: the program runs with its own directory as the working directory.
    program = (program or PROJECT_DIR / "__main__.py").resolve()

    # A fresh root stack per run: several stacks can be planned in one process.
    from pulumi.runtime.settings import ROOT

    ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    set_all_config(dict(config), list(secret_keys or []))
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()

    async def _exports() -> None:
        root = get_root_resource()
        for key, value in root.outputs.items():
            out = pulumi.Output.from_input(value)
            resolved = await out.future()
            if await out.is_secret():
                capture.secret_outputs.add(key)
            capture.outputs[key] = resolved

    def _program() -> None:
        cwd = os.getcwd()
        os.chdir(program.parent)
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            os.chdir(cwd)
        _sync_await(_exports())

    _sync_await(run_pulumi_func(_program))
    return capture


def run_stack(stack: str, project_dir: Path = PROJECT_DIR) -> Capture:
    """Run the program with the config of ``Pulumi.<stack>.yaml``."""
    config, secret_keys = read_stack_config(stack, project_dir)
    return run_program(
        stack, config, secret_keys, program=project_dir / "__main__.py", project=project_name(project_dir)
    )


def outputs_json(capture: Capture) -> dict[str, Any]:
    """Stack outputs with secret values replaced by a placeholder."""
    return {k: (SECRET_PLACEHOLDER if k in capture.secret_outputs else v) for k, v in capture.outputs.items()}


__all__ = [
    "Capture",
    "Captured",
    "PlanMocks",
    "RecordingMonitor",
    "outputs_json",
    "read_stack_config",
    "run_program",
    "run_stack",
]
