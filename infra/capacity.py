"""One capacity model: what a node of a pool can give pods, whether each pod fits, and how many
nodes each pool needs at minimum and at maximum scale.

The config rules (a pod that fits nowhere, a pool too small for its models' minimum replicas),
the plan (nodes per pool, with the models that need them) and the cost estimate (nodes the
minimum replicas need, never fewer than ``minNodes``) all read this module, so they cannot
disagree. Node allocatable comes from :func:`infra.catalog.allocatable` (GKE's documented
reservations); a pod's need is its requests plus the GCS FUSE sidecar GKE injects beside it
when it mounts a bucket (its file cache included: infra/coldstart.py). GKE's own DaemonSets
(logging, metrics, device plugin, DCGM) also take a little of every node; Google documents no
figure for them, so they are not subtracted and the plan prints the room left on each node
instead.

Pods are placed on the first pool (in config order) that holds them; the scheduler may spread
a model over several such pools, which can only lower the count of another. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra import catalog, coldstart
from infra.config import (
    ComputeClassConfig,
    ConversionConfig,
    GpuPool,
    ModelConfig,
    Resources,
    StackConfig,
    uses_gcs_fuse,
)
from infra.config.values import parse_quantity

GIB = 2**30
DIMENSIONS = (
    ("cpu", "cpu", "CPU"),
    ("memory_gib", "memory", "GiB memory"),
    ("ephemeral_gib", "ephemeralStorage", "GiB ephemeral storage"),
)


@dataclass(frozen=True)
class PodNeed:
    """What one pod takes from a node: its requests plus GKE's sidecar, and its GPUs."""

    workload: str
    cpu: float
    memory_gib: float
    ephemeral_gib: float
    gpus: int
    sidecar: bool = False

    def take(self) -> tuple[float, float, float]:
        return (self.cpu, self.memory_gib, self.ephemeral_gib)


def need(workload: str, resources: Resources, gpus: int, sidecar: catalog.Allocatable | None) -> PodNeed:
    """``sidecar``: the GCS FUSE sidecar's requests when the pod mounts a bucket (infra/coldstart.py)."""
    extra = sidecar or catalog.Allocatable(0, 0, 0)
    return PodNeed(
        workload=workload,
        cpu=parse_quantity(resources.cpu) + extra.cpu,
        memory_gib=parse_quantity(resources.memory) / GIB + extra.memory_gib,
        ephemeral_gib=parse_quantity(resources.ephemeral_storage) / GIB + extra.ephemeral_gib,
        gpus=gpus,
        sidecar=sidecar is not None,
    )


def model_need(model: ModelConfig) -> PodNeed:
    return need(
        model.name, model.resources, model.gpu.count, coldstart.sidecar(model) if uses_gcs_fuse(model) else None
    )


def conversion_need(conv: ConversionConfig) -> PodNeed:
    return need(conv.name, conv.resources, conv.gpu.count if conv.gpu else 0, None)


def node_allocatable(machine_type: str, disk_size_gb: int) -> catalog.Allocatable | None:
    return catalog.allocatable(machine_type, disk_size_gb)


def shortfalls(pod: PodNeed, alloc: catalog.Allocatable) -> list[tuple[str, float, float]]:
    """(config key, needed, allocatable) for every resource a node cannot give this pod."""
    out = []
    for attr, key, _ in DIMENSIONS:
        wanted, have = getattr(pod, attr), getattr(alloc, attr)
        if wanted > have + 1e-9:
            out.append((key, wanted, have))
    return out


def disk_for(ephemeral_gib: float) -> int:
    """The smallest boot disk (GB) whose allocatable ephemeral storage holds ``ephemeral_gib``."""
    disk = 10
    while catalog.ephemeral_allocatable(disk) < ephemeral_gib:
        disk += 1
    return disk


def gpu_slots(pool: GpuPool) -> int:
    """GPUs a node of ``pool`` hands out; with sharing, one per client."""
    return pool.gpus_per_node * (pool.sharing.max_clients_per_gpu if pool.sharing else 1)


def _pack(pods: list[PodNeed], alloc: catalog.Allocatable, slots: int) -> int:
    """Nodes the pods need, packed first-fit decreasing over CPU, memory, ephemeral storage and GPUs."""
    nodes: list[list[float]] = []
    for pod in sorted(pods, key=lambda p: (p.gpus, p.cpu, p.memory_gib), reverse=True):
        want = (*pod.take(), pod.gpus)
        for free in nodes:
            if all(w <= f + 1e-9 for w, f in zip(want, free, strict=True)):
                for i, w in enumerate(want):
                    free[i] -= w
                break
        else:
            free = [alloc.cpu, alloc.memory_gib, alloc.ephemeral_gib, float(slots)]
            for i, w in enumerate(want):
                free[i] -= w
            nodes.append(free)
    return len(nodes)


@dataclass(frozen=True)
class PoolPlan:
    """A GPU pool's node counts: configured, and needed by the models placed on it."""

    pool: GpuPool
    allocatable: catalog.Allocatable
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)  # model -> (min, max)
    needed_min: int = 0
    needed_max: int = 0

    @property
    def nodes_min(self) -> int:
        """Nodes at minimum scale: what the minimum replicas need, never fewer than minNodes."""
        return min(max(self.pool.min_nodes, self.needed_min), self.pool.max_nodes)

    @property
    def nodes_max(self) -> int:
        """Nodes at maximum scale: what the maximum replicas need, within minNodes..maxNodes."""
        return min(max(self.nodes_min, self.needed_max), self.pool.max_nodes)


def home_pool(cfg: StackConfig, pod: PodNeed, candidates: tuple[GpuPool, ...]) -> GpuPool | None:
    """The first of ``candidates`` a pod fits on (by allocatable), or None."""
    for pool in candidates:
        alloc = node_allocatable(pool.machine_type, pool.disk_size_gb)
        if alloc is not None and not shortfalls(pod, alloc):
            return pool
    return None


def plan_pools(cfg: StackConfig) -> list[PoolPlan]:
    """Every GPU pool with the models placed on it and the nodes they need (Standard only)."""
    if cfg.cluster.mode != "standard":
        return []
    placed: dict[str, list[tuple[ModelConfig, PodNeed]]] = {p.name: [] for p in cfg.gpu_pools}
    for model in cfg.models:
        pod = model_need(model)
        pool = home_pool(cfg, pod, cfg.pools_for(model))
        if pool is not None:
            placed[pool.name].append((model, pod))
    plans = []
    for pool in cfg.gpu_pools:
        alloc = node_allocatable(pool.machine_type, pool.disk_size_gb)
        if alloc is None:
            continue
        here = placed[pool.name]
        slots = gpu_slots(pool)
        plans.append(
            PoolPlan(
                pool=pool,
                allocatable=alloc,
                replicas={m.name: (m.replicas.min, m.replicas.max) for m, _ in here},
                needed_min=_pack([p for m, p in here for _ in range(m.replicas.min)], alloc, slots),
                needed_max=_pack([p for m, p in here for _ in range(m.replicas.max)], alloc, slots),
            )
        )
    return plans


@dataclass(frozen=True)
class ClassPlan:
    """A compute class's node counts: GKE creates its nodes as Pods ask, from none up to maxNodes."""

    compute_class: ComputeClassConfig
    allocatable: catalog.Allocatable
    replicas: dict[str, tuple[int, int]] = field(default_factory=dict)  # model -> (min, max)
    needed_min: int = 0
    needed_max: int = 0

    @property
    def nodes_min(self) -> int:
        return min(self.needed_min, self.compute_class.max_nodes)

    @property
    def nodes_max(self) -> int:
        return min(max(self.nodes_min, self.needed_max), self.compute_class.max_nodes)


def class_allocatable(cc: ComputeClassConfig) -> catalog.Allocatable | None:
    return node_allocatable(cc.machine_type, cc.disk_size_gb)


def plan_classes(cfg: StackConfig) -> list[ClassPlan]:
    """Every compute class with the models that select it and the nodes their replicas need (both
    cluster modes: the class fixes the node shape, so Autopilot's nodes are the class's too)."""
    plans = []
    for cc in cfg.compute_classes:
        alloc = class_allocatable(cc)
        if alloc is None:
            continue
        here = [(m, model_need(m)) for m in cfg.class_models(cc.name)]
        plans.append(
            ClassPlan(
                compute_class=cc,
                allocatable=alloc,
                replicas={m.name: (m.replicas.min, m.replicas.max) for m, _ in here},
                needed_min=_pack([p for m, p in here for _ in range(m.replicas.min)], alloc, cc.gpus_per_node),
                needed_max=_pack([p for m, p in here for _ in range(m.replicas.max)], alloc, cc.gpus_per_node),
            )
        )
    return plans


def render_lines(cfg: StackConfig) -> list[str]:
    """The capacity section of the plan: per pool and compute class, nodes at minimum and maximum, and why."""
    plans = plan_pools(cfg)
    classes = plan_classes(cfg)
    if not plans and not classes:
        return []
    out = [
        "Capacity (nodes each GPU pool needs for its models' replicas; node allocatable per GKE's reservations; "
        "GKE's own DaemonSets take part of the room left, which Google does not document):"
    ]
    for plan in plans:
        a, p = plan.allocatable, plan.pool
        models = ", ".join(f"{name} {lo}..{hi}" for name, (lo, hi) in plan.replicas.items()) or "no models"
        out.append(
            f"  pool {p.name} ({p.gke_name}): {plan.nodes_min}..{plan.nodes_max} nodes "
            f"(minNodes {p.min_nodes}, maxNodes {p.max_nodes}; replicas {models}); "
            f"a node allocates {a.cpu:g} CPU, {a.memory_gib:.2f} GiB, {a.ephemeral_gib:g} GiB ephemeral "
            f"on a {p.disk_size_gb} GB boot disk"
        )
        for model in cfg.models:
            if model.name in plan.replicas:
                out.append(_room_line(model, a))
        if plan.needed_max > p.max_nodes:
            out.append(
                f"  warning: pool {p.name}: the maximum replicas need {plan.needed_max} nodes, maxNodes is "
                f"{p.max_nodes}: {plan.needed_max - p.max_nodes} node(s) of pods would stay Pending at full scale"
            )
    for cp in classes:
        a, cc = cp.allocatable, cp.compute_class
        models = ", ".join(f"{name} {lo}..{hi}" for name, (lo, hi) in cp.replicas.items()) or "no models"
        out.append(
            f"  compute class {cc.name} ({cc.machine_type} + {cc.gpus_per_node}x {cc.accelerator}): "
            f"{cp.nodes_min}..{cp.nodes_max} nodes (maxNodes {cc.max_nodes}; replicas {models}); "
            f"a node allocates {a.cpu:g} CPU, {a.memory_gib:.2f} GiB, {a.ephemeral_gib:g} GiB ephemeral "
            f"on a {cc.disk_size_gb} GB boot disk"
        )
        for model in cfg.class_models(cc.name):
            out.append(_room_line(model, a))
        if cp.needed_max > cc.max_nodes:
            out.append(
                f"  warning: compute class {cc.name}: the maximum replicas need {cp.needed_max} nodes, maxNodes is "
                f"{cc.max_nodes}: {cp.needed_max - cc.max_nodes} node(s) of pods would stay Pending at full scale"
            )
    return out


def _room_line(model: ModelConfig, a: catalog.Allocatable) -> str:
    pod = model_need(model)
    room = [f"{getattr(a, attr) - getattr(pod, attr):.2f} {unit}" for attr, _, unit in DIMENSIONS]
    sidecar = " with the GCS FUSE sidecar" if pod.sidecar else ""
    return (
        f"    {model.name}: {pod.gpus} GPU, {pod.cpu:g} CPU, {pod.memory_gib:g} GiB, "
        f"{pod.ephemeral_gib:g} GiB ephemeral{sidecar}; leaves {', '.join(room)} on its node"
    )


def chain_lines(cfg: StackConfig) -> list[str]:
    """Where each model's GPU nodes come from, in the order GKE tries them (the plan's section)."""
    if not cfg.models:
        return []
    out = ["GPU capacity per model (where a replica's node comes from, in the order GKE tries):"]
    for model in cfg.models:
        cc = cfg.compute_class(model.compute_class)
        if cc is not None:
            after = "waits" if cc.when_unsatisfiable == "DoNotScaleUp" else "lets GKE pick any node"
            back = "; moves pods back up the chain when it can" if cc.active_migration else ""
            out.append(
                f"  {model.name}: compute class {cc.name} ({cc.machine_type} + {cc.gpus_per_node}x {cc.accelerator}): "
                f"{' > '.join(cc.chain)}; none available: {after}{back}"
            )
        elif cfg.cluster.mode == "standard":
            pools = [f"{p.name} ({'spot' if p.spot else 'on-demand'})" for p in cfg.pools_for(model)]
            out.append(f"  {model.name}: GPU pool {' or '.join(pools)}")
        elif cfg.autopilot:
            out.append(f"  {model.name}: Autopilot, {model.gpu.count}x {model.gpu.type} on-demand (no compute class)")
        else:
            out.append(f"  {model.name}: the existing cluster's own node pools")
    return out
