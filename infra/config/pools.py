"""``gke-gpu-serving:gpuPools``: GPU node pools (T4 on N1, L4 on G2), which models they can hold, and
the capacity rules (GKE's node allocatable via :mod:`infra.capacity`, Autopilot's per-GPU bounds)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from infra import catalog, naming
from infra.config.base import POOL_KEY_MAX, AcceleratorName, Driver, ImageType, Problem, _dns_name, _Model, _repeats
from infra.config.values import parse_quantity

if TYPE_CHECKING:
    from infra.config.models import ModelGpu, Resources
    from infra.config.stack import StackConfig


class GpuSharing(_Model):
    strategy: Literal["time-sharing", "mps"]
    max_clients_per_gpu: int = Field(ge=2, le=48)


class GpuPool(_Model):
    name: str
    accelerator: AcceleratorName
    gpus_per_node: int = Field(ge=1)
    machine_type: str
    min_nodes: int = Field(0, ge=0)
    max_nodes: int = Field(ge=1)
    spot: bool = False
    driver: Driver = "gke-default"
    sharing: GpuSharing | None = None
    image_type: ImageType = "COS_CONTAINERD"
    disk_size_gb: int = Field(100, ge=50)
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard"] = "pd-balanced"
    node_locations: tuple[str, ...] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, POOL_KEY_MAX, "pool name")

    @property
    def gke_name(self) -> str:
        return naming.gpu_pool_name(
            self.accelerator,
            self.gpus_per_node,
            self.machine_type,
            spot=self.spot,
            sharing=self.sharing.strategy if self.sharing else None,
            max_clients=self.sharing.max_clients_per_gpu if self.sharing else None,
        )


def pool_can_hold(pool: GpuPool, gpu: ModelGpu) -> bool:
    """A pod asking for ``gpu`` fits a node of ``pool``.

    With GPU sharing (time-sharing or MPS) GKE lets a container request exactly one shared GPU.
    """
    if pool.accelerator != gpu.type or pool.gpus_per_node < gpu.count:
        return False
    return pool.sharing is None or gpu.count == 1


def _capacity_checks(cfg: StackConfig) -> list[Problem]:
    """Every pod fits a node of a pool it may land on, and every pool fits its models' minimum
    replicas (infra/capacity.py: GKE's node allocatable, the GCS FUSE sidecar)."""
    from infra import capacity  # capacity reads these models: imported here, not at module load

    problems: list[Problem] = []
    if cfg.cluster.mode == "standard":
        for i, model in enumerate(cfg.models):
            pods = cfg.pools_for(model)
            pod = capacity.model_need(model)
            if pods and capacity.home_pool(cfg, pod, pods) is None:
                problems.append(_misfit(cfg, ("models", i, "resources"), pod, model.resources, pods))
        system = GpuPool(
            name="system",
            accelerator="nvidia-tesla-t4",
            gpus_per_node=1,
            machine_type=cfg.cluster.system_pool.machine_type,
            max_nodes=cfg.cluster.system_pool.max_nodes,
            disk_size_gb=cfg.cluster.system_pool.disk_size_gb,
        )
        for at, conv in cfg.all_conversions:
            pod = capacity.conversion_need(conv)
            pools = cfg.pools_for_gpu(conv.gpu) if conv.gpu else (system,)
            if pools and capacity.home_pool(cfg, pod, pools) is None:
                key = (*at, "resources") if at[0] == "conversions" else at
                problems.append(_misfit(cfg, key, pod, conv.resources, pools))
        for plan in capacity.plan_pools(cfg):
            if plan.needed_min > plan.pool.max_nodes:
                j = cfg.gpu_pools.index(plan.pool)
                models = ", ".join(f"{m} ({lo})" for m, (lo, _) in plan.replicas.items())
                problems.append(
                    Problem(
                        ("gpuPools", j, "maxNodes"),
                        plan.pool.max_nodes,
                        f"the minimum replicas of {models} need {plan.needed_min} nodes of this pool; "
                        f"raise maxNodes to at least {plan.needed_min} or lower their replicas.min",
                    )
                )
    for i, cc in enumerate(cfg.compute_classes):
        alloc = capacity.class_allocatable(cc)
        for model in cfg.class_models(cc.name):
            pod = capacity.model_need(model)
            short = capacity.shortfalls(pod, alloc) if alloc is not None else []
            if short:
                key, wanted, have = short[0]
                j = cfg.models.index(model)
                fix = (
                    f"raise computeClasses[{i}].diskSizeGb to at least {capacity.disk_for(wanted)}"
                    if key == "ephemeralStorage"
                    else f"use a larger computeClasses[{i}].machineType"
                )
                problems.append(
                    Problem(
                        ("models", j, "resources", key),
                        getattr(model.resources, _RESOURCE_ATTR[key]),
                        f"{model.name} needs {wanted:g} {_UNIT[key]}, but a {cc.machine_type} node with a "
                        f"{cc.disk_size_gb} GB boot disk (computeClasses[{i}]) gives pods {have:g} {_UNIT[key]} "
                        f"(GKE's node allocatable); {fix}, or lower the request",
                    )
                )
    for plan in capacity.plan_classes(cfg):
        cc = plan.compute_class
        if plan.needed_min > cc.max_nodes:
            models = ", ".join(f"{m} ({lo})" for m, (lo, _) in plan.replicas.items())
            problems.append(
                Problem(
                    ("computeClasses", cfg.compute_classes.index(cc), "maxNodes"),
                    cc.max_nodes,
                    f"the minimum replicas of {models} need {plan.needed_min} nodes of this class; "
                    f"raise maxNodes to at least {plan.needed_min} or lower their replicas.min",
                )
            )
    return problems


_RESOURCE_ATTR = {"cpu": "cpu", "memory": "memory", "ephemeralStorage": "ephemeral_storage"}
_UNIT = {"cpu": "CPU", "memory": "GiB memory", "ephemeralStorage": "GiB ephemeral storage"}


def _misfit(cfg: StackConfig, at: tuple, pod: Any, requested: Resources, pools: tuple[GpuPool, ...]) -> Problem:
    """The problem for a pod no pool can hold, naming the first resource short and the fix."""
    from infra import capacity

    pool = pools[0]
    alloc = capacity.node_allocatable(pool.machine_type, pool.disk_size_gb)
    key, wanted, have = capacity.shortfalls(pod, alloc)[0]
    owner = "cluster.systemPool" if pool.name == "system" else f"gpuPools[{cfg.gpu_pools.index(pool)}]"
    sidecar = " (with the GCS FUSE sidecar's requests, its file cache included)" if pod.sidecar else ""
    unit = _UNIT[key]
    fix = (
        f"raise {owner}.diskSizeGb to at least {capacity.disk_for(wanted)}"
        if key == "ephemeralStorage"
        else f"use a larger {owner}.machineType"
    )
    given = {"cpu": requested.cpu, "memory": requested.memory, "ephemeralStorage": requested.ephemeral_storage}[key]
    if at[-1] == "resources":
        path = (*at, key)
    elif key == "ephemeralStorage":  # a FasterTransformer predictor's conversion: its scratch space
        path = (*at, "conversionEphemeralStorage")
    else:  # its CPU and memory are fixed by the stack (predictor_conversion): the node is the fix
        path = at
    return Problem(
        path,
        given,
        f"{pod.workload} needs {wanted:g} {unit}{sidecar}, but a {pool.machine_type} node with a "
        f"{pool.disk_size_gb} GB boot disk ({owner}) gives pods {have:g} {unit} (GKE's node allocatable); "
        f"{fix}, or lower the request",
    )


def _pool_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    repeated_name = _repeats([p.name for p in cfg.gpu_pools])
    repeated_gke = _repeats([p.gke_name for p in cfg.gpu_pools])
    for i, pool in enumerate(cfg.gpu_pools):
        at = ("gpuPools", i)
        bad = catalog.check_pairing(pool.accelerator, pool.machine_type, pool.gpus_per_node)
        if bad:
            field, why = bad
            problems.append(Problem((*at, field), pool.model_dump(by_alias=True)[field], why))
        if pool.min_nodes > pool.max_nodes:
            problems.append(
                Problem(
                    (*at, "minNodes"),
                    pool.min_nodes,
                    f"is greater than maxNodes ({pool.max_nodes}); lower minNodes or raise maxNodes",
                )
            )
        disks = catalog.BOOT_DISK_TYPES.get(catalog.machine_family(pool.machine_type), ())
        if disks and pool.disk_type not in disks:
            problems.append(
                Problem(
                    (*at, "diskType"),
                    pool.disk_type,
                    f"{catalog.machine_family(pool.machine_type).upper()} machines do not take {pool.disk_type} boot "
                    f"disks; use one of {', '.join(disks)}",
                )
            )
        acc = catalog.ACCELERATORS[pool.accelerator]
        if not acc.offered_in(cfg.cluster.location):
            where = ", ".join(acc.zones_in(cfg.region)) or "no zone of this region"
            problems.append(
                Problem(
                    (*at, "accelerator"),
                    pool.accelerator,
                    f"{acc.display} is not offered in {cfg.cluster.location} (offered in {where}); "
                    "pick a location that offers it (see infra/catalog.py)",
                )
            )
        for j, zone in enumerate(pool.node_locations or ()):
            if not acc.offered_in(zone) or catalog.region_of(zone) != cfg.region:
                where = ", ".join(acc.zones_in(cfg.region)) or "no zone of this region"
                problems.append(
                    Problem(
                        (*at, "nodeLocations", j),
                        zone,
                        f"{acc.display} is not offered in zone {zone} of {cfg.region}; use {where}",
                    )
                )
        if i in repeated_name:
            problems.append(
                Problem(
                    (*at, "name"), pool.name, f"repeats gpuPools[{repeated_name[i]}].name; pool names must be unique"
                )
            )
        if i in repeated_gke:
            problems.append(
                Problem(
                    at,
                    pool.gke_name,
                    f"holds the same hardware as gpuPools[{repeated_gke[i]}] (both would be "
                    f"named {pool.gke_name}); merge them or change spot/sharing",
                )
            )
    return problems


def pool_capacity(pool: GpuPool, gpu: ModelGpu) -> int:
    """Pods asking for ``gpu`` that ``pool`` holds at maxNodes (shared GPUs take one client each)."""
    per_node = pool.gpus_per_node // gpu.count
    if pool.sharing is not None:
        per_node = pool.gpus_per_node * pool.sharing.max_clients_per_gpu
    return pool.max_nodes * per_node


def _standard_fit(cfg: StackConfig, at: tuple, gpu: ModelGpu) -> list[Problem]:
    same_type = [p for p in cfg.gpu_pools if p.accelerator == gpu.type]
    if not same_type:
        pools = ", ".join(f"{p.name} ({p.accelerator})" for p in cfg.gpu_pools) or "none"
        return [
            Problem(
                (*at, "type"),
                gpu.type,
                f"no GPU pool serves {gpu.type} (pools: {pools}); add a gpuPools entry with "
                f"accelerator: {gpu.type} or change the model's GPU",
            )
        ]
    if not cfg.pools_for_gpu(gpu):
        best = max(p.gpus_per_node for p in same_type)
        shared = [p.name for p in same_type if p.sharing]
        hint = f" (pools {', '.join(shared)} share GPUs, which allows 1 GPU per container)" if shared else ""
        return [
            Problem(
                (*at, "count"),
                gpu.count,
                f"no {gpu.type} pool has {gpu.count} GPUs per node (largest: {best}){hint}; "
                "lower gpu.count or add a pool with more gpusPerNode",
            )
        ]
    return []


def _autopilot_fit(at: tuple, gpu: ModelGpu, resources: Resources) -> list[Problem]:
    acc = catalog.ACCELERATORS[gpu.type]
    limits = acc.autopilot.get(gpu.count)
    if limits is None:
        counts = ", ".join(str(c) for c in acc.autopilot)
        return [
            Problem(
                (*at, "gpu", "count"),
                gpu.count,
                f"Autopilot offers {acc.display} pods with {counts} GPUs; use one of those",
            )
        ]
    problems = []
    cpu = parse_quantity(resources.cpu)
    mem_gib = parse_quantity(resources.memory) / 2**30
    if not limits.cpu_min <= cpu <= limits.cpu_max:
        problems.append(
            Problem(
                (*at, "resources", "cpu"),
                resources.cpu,
                f"Autopilot allows {limits.cpu_min}-{limits.cpu_max} vCPU for {gpu.count} x "
                f"{acc.display} (maximum from {limits.basis}); set resources.cpu inside that range",
            )
        )
    if not limits.memory_min_gib <= mem_gib <= limits.memory_max_gib:
        problems.append(
            Problem(
                (*at, "resources", "memory"),
                resources.memory,
                f"Autopilot allows {limits.memory_min_gib}-{limits.memory_max_gib} GiB for "
                f"{gpu.count} x {acc.display} (maximum from {limits.basis}); set resources.memory inside that range",
            )
        )
    return problems
