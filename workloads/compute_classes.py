"""The stack's custom ComputeClasses (``cloud.google.com/v1``, cluster-scoped): one object per
``computeClasses`` entry, created before the Pods that select it (a Pod naming a class that does
not exist stays Pending).

Each config priority becomes one ``spec.priorities`` rule of the same node shape (machine type, GPU
type and count, boot disk), differing only in where the node comes from: a named reservation
(``reservations.affinity: Specific``), any matching reservation (``AnyBestEffort``), on-demand
(``spot: false``), flex-start (``flexStart.enabled`` with node recycling, ``maxRunDurationSeconds``)
or spot (``spot: true``). The field names and their rules are the ComputeClass schema's
(tests/fixtures/crds/, checked by tests/reality/test_compute_classes.py).

The GPU driver of a class's nodes is the class's (``priorities[].gpu.driverVersion``): GKE rejects
a Pod on a class that also selects ``cloud.google.com/gke-gpu-driver-version``. So a class runs
``latest`` when the config says so or when one of its models' images needs a newer driver branch
than ``default`` installs (:mod:`workloads.drivers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.config import ClassPriority, ComputeClassConfig, StackConfig
from workloads import vllm
from workloads.context import Context
from workloads.drivers import autopilot_driver

API_VERSION = "cloud.google.com/v1"
KIND = "ComputeClass"


@dataclass(frozen=True)
class Driver:
    version: str
    reason: str


def class_driver(cfg: StackConfig, cc: ComputeClassConfig) -> Driver:
    """The driver branch of the class's nodes and why: the config's, raised to ``latest`` when a
    model's image needs it."""
    if cc.driver_version == "latest":
        return Driver("latest", "computeClasses[].driverVersion: latest")
    for model in cfg.class_models(cc.name):
        # vLLM is the one server whose image sets a driver need (workloads/vllm.py).
        need = autopilot_driver(vllm.IMAGE_CUDA, image=model.image or vllm.IMAGE) if model.server == "vllm" else None
        if need is not None and need.version == "latest":
            return Driver("latest", f"{model.name}: {need.reason}")
    return Driver("default", "GKE's default branch serves every model on the class")


def _capacity(p: ClassPriority) -> dict:
    if p.capacity == "reservation":
        specific = [{"name": r.name} | ({"project": r.project} if r.project else {}) for r in p.reservations]
        return {"reservations": {"affinity": "Specific", "specific": specific}}
    if p.capacity == "any-reservation":
        return {"reservations": {"affinity": "AnyBestEffort"}}
    if p.capacity == "flex-start":
        rule: dict = {"flexStart": {"enabled": True}}
        if p.recycle_lead_seconds is not None:
            rule["flexStart"]["nodeRecycling"] = {"leadTimeSeconds": p.recycle_lead_seconds}
        if p.max_run_duration_seconds is not None:
            rule["maxRunDurationSeconds"] = p.max_run_duration_seconds
        return rule
    return {"spot": p.capacity == "spot"}


def compute_class_spec(
    cc: ComputeClassConfig,
    *,
    autopilot: bool,
    driver: str,
    node_service_account: pulumi.Input[str] | None = None,
    image_streaming: bool = True,
) -> dict:
    """The object's ``spec``. On Standard the auto-created pools get the stack's node identity and
    image streaming (``nodePoolConfig``); Autopilot manages both itself."""
    shape = {
        "machineType": cc.machine_type,
        "gpu": {"type": cc.accelerator, "count": cc.gpus_per_node, "driverVersion": driver},
        "storage": {"bootDiskSize": cc.disk_size_gb, "bootDiskType": cc.disk_type},
    }
    spec: dict = {
        "priorities": [shape | _capacity(p) for p in cc.priorities],
        "whenUnsatisfiable": cc.when_unsatisfiable,
        "nodePoolAutoCreation": {"enabled": True},
        "activeMigration": {"optimizeRulePriority": cc.active_migration},
    }
    if not autopilot:
        spec["nodePoolConfig"] = {"imageStreaming": {"enabled": image_streaming}}
        if node_service_account is not None:
            spec["nodePoolConfig"]["serviceAccount"] = node_service_account
    return spec


def compute_classes(ctx: Context) -> dict[str, k8s.apiextensions.CustomResource]:
    """One ComputeClass per config entry (class name -> object)."""
    cfg = ctx.cfg
    node_sa = ctx.platform.cluster.node_service_account
    out = {}
    for cc in cfg.compute_classes:
        driver = class_driver(cfg, cc)
        out[cc.name] = k8s.apiextensions.CustomResource(
            f"computeclass-{cc.name}",
            api_version=API_VERSION,
            kind=KIND,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cc.name,
                labels=naming.k8s_labels(cfg.environment, "compute-class", cc.name),
                annotations={f"{naming.PROJECT}/gpu-driver": f"{driver.version}: {driver.reason}"},
            ),
            spec=compute_class_spec(
                cc,
                autopilot=cfg.autopilot,
                driver=driver.version,
                node_service_account=node_sa.email if node_sa is not None and not cfg.autopilot else None,
                image_streaming=cfg.cluster.image_streaming,
            ),
            opts=ctx.cluster_opts,
        )
    return out
