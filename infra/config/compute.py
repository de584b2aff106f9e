"""``gke-gpu-serving:computeClasses``: GKE custom ComputeClasses (``cloud.google.com/v1``), each a
GPU shape and the capacity chain GKE tries for it, in the order the config states. A model that
names one (``models[].computeClass``) schedules on the class instead of the fixed ``gpuPools``.

Facts the rules rest on (GKE, "About custom ComputeClasses", last updated 2026-04-13, and the
ComputeClass schema in tests/fixtures/crds/):

- GKE tries ``priorities`` in order and falls back to the next when one cannot be had; with
  ``activeMigration.optimizeRulePriority`` it moves workloads back to a higher priority once it
  can. ``whenUnsatisfiable`` says what happens when none can (``DoNotScaleUp`` by default).
- A Pod selects its class with the ``cloud.google.com/compute-class`` node selector; GKE rejects
  Pods that also select a system label the class has a field for (``cloud.google.com/gke-accelerator``
  is ``priorities.gpu.type``), so such Pods select nothing else.
- Flex-start (Dynamic Workload Scheduler) runs a node for at most seven days (the default of
  ``maxRunDurationSeconds``; GKE, "About flex-start provisioning"); Compute Engine offers flex-start
  VMs for accelerator-optimized machine types ("About Flex-start VMs"): G2 (L4) is one, N1 (T4) is
  general-purpose, so a T4 class may not ask for flex-start.
- The order this project enforces, reservations -> on-demand -> flex-start -> spot, is GKE's guidance
  for inference (google/skills, skills/cloud/gke-compute-classes; GPU node start-up is slow, so a
  replica on a preempted spot node is the costliest fallback, not the first choice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra import catalog, naming
from infra.config.base import AcceleratorName, Problem, _dns_name, _Model, _repeats

if TYPE_CHECKING:
    from infra.config.stack import StackConfig

Capacity = Literal["reservation", "any-reservation", "on-demand", "flex-start", "spot"]
# The chain's order: a priority may not come before one of a lower rank.
CAPACITY_ORDER: tuple[str, ...] = ("reservation", "any-reservation", "on-demand", "flex-start", "spot")
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
FLEX_START_MAX_SECONDS = 7 * 86_400
CLASS_NAME_MAX = 40


class Reservation(_Model):
    """A specific Compute Engine reservation the priority consumes (``reservations.specific``)."""

    name: str = Field(description="the reservation's name")
    project: str | None = Field(None, description="the project holding it (a shared reservation); default: the stack's")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, naming.COMPUTE_NAME_MAX, "reservation name")


class ClassPriority(_Model):
    """One step of the chain: where GKE looks for a node of the class's shape."""

    capacity: Capacity = Field(
        description="reservation (a named one), any-reservation (any matching open reservation), "
        "on-demand, flex-start (Dynamic Workload Scheduler, at most 7 days a node) or spot"
    )
    reservations: tuple[Reservation, ...] = Field((), description="capacity: reservation only; the reservations to use")
    max_run_duration_seconds: int | None = Field(
        None,
        ge=600,
        le=FLEX_START_MAX_SECONDS,
        description="capacity: flex-start only; a node's lifetime (default 7 days)",
    )
    recycle_lead_seconds: int | None = Field(
        3600,
        ge=1,
        le=FLEX_START_MAX_SECONDS,
        description="capacity: flex-start only; how long before a node's end GKE starts its replacement",
    )


class ComputeClassConfig(_Model):
    """A GPU shape and its capacity chain; GKE creates node pools for it as Pods ask."""

    name: str
    accelerator: AcceleratorName
    gpus_per_node: int = Field(1, ge=1)
    machine_type: str = Field(description="the node shape every priority asks for (capacity model and cost read it)")
    disk_size_gb: int = Field(100, ge=50)
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard"] = "pd-balanced"
    max_nodes: int = Field(ge=1, description="the most nodes of this class (node auto-provisioning limits, cost)")
    driver_version: Literal["default", "latest"] = Field(
        "default", description="GKE-managed driver branch of the class's nodes (priorities[].gpu.driverVersion)"
    )
    priorities: tuple[ClassPriority, ...] = Field(min_length=1)
    when_unsatisfiable: Literal["DoNotScaleUp", "ScaleUpAnyway"] = Field(
        "DoNotScaleUp", description="no priority can be had: wait (DoNotScaleUp) or let GKE pick any node"
    )
    active_migration: bool = Field(True, description="move Pods back to a higher priority once it can be had")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, CLASS_NAME_MAX, "compute class name")

    @property
    def chain(self) -> tuple[str, ...]:
        """The capacities tried, in order (for the plan)."""
        out = []
        for p in self.priorities:
            if p.capacity == "reservation":
                out.append("reservation " + ", ".join(r.name for r in p.reservations))
            else:
                out.append(p.capacity)
        return tuple(out)


def _priority_checks(cfg: StackConfig, at: tuple, cc: ComputeClassConfig) -> list[Problem]:
    problems: list[Problem] = []
    acc = catalog.ACCELERATORS[cc.accelerator]
    seen: dict[str, int] = {}
    for j, p in enumerate(cc.priorities):
        here = (*at, "priorities", j)
        rank = CAPACITY_ORDER.index(p.capacity)
        later = [q.capacity for q in cc.priorities[:j] if CAPACITY_ORDER.index(q.capacity) > rank]
        if later:
            problems.append(
                Problem(
                    (*here, "capacity"),
                    p.capacity,
                    f"comes after {later[0]}; order the chain reservation -> any-reservation -> on-demand -> "
                    "flex-start -> spot (GKE's guidance for serving: GPU nodes start slowly, so spot is the last fallback)",
                )
            )
        if p.capacity != "reservation" and p.capacity in seen:
            problems.append(
                Problem(
                    (*here, "capacity"),
                    p.capacity,
                    f"repeats priorities[{seen[p.capacity]}]; each capacity appears once (list several reservations "
                    "under one reservation priority, or one priority per reservation)",
                )
            )
        seen.setdefault(p.capacity, j)
        if p.capacity == "reservation" and not p.reservations:
            problems.append(
                Problem(
                    (*here, "reservations"),
                    [],
                    "capacity: reservation needs the reservations to use; name them, or use any-reservation",
                )
            )
        if p.capacity != "reservation" and p.reservations:
            problems.append(
                Problem(
                    (*here, "reservations"),
                    [r.name for r in p.reservations],
                    f"names reservations, but capacity is {p.capacity}; set capacity: reservation or remove them",
                )
            )
        if p.capacity != "flex-start" and p.max_run_duration_seconds is not None:
            problems.append(
                Problem(
                    (*here, "maxRunDurationSeconds"),
                    p.max_run_duration_seconds,
                    f"applies to flex-start nodes only, this priority is {p.capacity}; remove it",
                )
            )
        if p.capacity == "flex-start" and acc.machine_family != "g2":
            problems.append(
                Problem(
                    (*here, "capacity"),
                    p.capacity,
                    f"flex-start VMs are offered for accelerator-optimized machine types; {acc.display} runs on "
                    f"{acc.machine_family.upper()}, a general-purpose series (Compute Engine, About Flex-start VMs); "
                    "drop this priority or use nvidia-l4",
                )
            )
    return problems


def compute_class_checks(cfg: StackConfig) -> list[Problem]:
    problems: list[Problem] = []
    classes = cfg.compute_classes
    if classes and cfg.cluster.mode == "existing" and not cfg.autopilot:
        problems.append(
            Problem(
                ("computeClasses",),
                [c.name for c in classes],
                "a Standard cluster the stack does not manage: the stack cannot turn on node auto-provisioning "
                "for the classes' node pools; use the cluster's own pools (gpuPools) or manage the cluster here",
            )
        )
    repeated = _repeats([c.name for c in classes])
    for i, cc in enumerate(classes):
        at = ("computeClasses", i)
        if i in repeated:
            problems.append(
                Problem(
                    (*at, "name"), cc.name, f"repeats computeClasses[{repeated[i]}].name; class names must be unique"
                )
            )
        bad = catalog.check_pairing(cc.accelerator, cc.machine_type, cc.gpus_per_node)
        if bad:
            field, why = bad
            problems.append(Problem((*at, field), cc.model_dump(by_alias=True)[field], why))
        disks = catalog.BOOT_DISK_TYPES.get(catalog.machine_family(cc.machine_type), ())
        if disks and cc.disk_type not in disks:
            problems.append(
                Problem(
                    (*at, "diskType"),
                    cc.disk_type,
                    f"{catalog.machine_family(cc.machine_type).upper()} machines do not take {cc.disk_type} boot "
                    f"disks; use one of {', '.join(disks)}",
                )
            )
        acc = catalog.ACCELERATORS[cc.accelerator]
        if not acc.offered_in(cfg.cluster.location):
            problems.append(
                Problem(
                    (*at, "accelerator"),
                    cc.accelerator,
                    f"{acc.display} is not offered in {cfg.cluster.location}; pick a location that offers it "
                    "(see infra/catalog.py)",
                )
            )
        problems.extend(_priority_checks(cfg, at, cc))
    names = {c.name: c for c in classes}
    for i, model in enumerate(cfg.models):
        if model.compute_class is None:
            continue
        at = ("models", i, "computeClass")
        cc = names.get(model.compute_class)
        if cc is None:
            known = ", ".join(names) or "none declared"
            problems.append(
                Problem(
                    at,
                    model.compute_class,
                    f"names no class in computeClasses (declared: {known}); declare it or fix the name",
                )
            )
            continue
        if cc.accelerator != model.gpu.type or cc.gpus_per_node < model.gpu.count:
            problems.append(
                Problem(
                    at,
                    model.compute_class,
                    f"gives {cc.gpus_per_node}x {cc.accelerator} per node, the model asks for {model.gpu.count}x "
                    f"{model.gpu.type}; pick a class with that GPU or change models[{i}].gpu",
                )
            )
        elif model.replicas.max > cc.max_nodes * (cc.gpus_per_node // model.gpu.count):
            held = cc.max_nodes * (cc.gpus_per_node // model.gpu.count)
            problems.append(
                Problem(
                    (*at[:-1], "replicas", "max"),
                    model.replicas.max,
                    f"compute class {cc.name} holds at most {held} pods of this model (maxNodes x gpusPerNode / "
                    "gpu.count); the rest would sit Pending: lower replicas.max or raise the class's maxNodes",
                )
            )
        if model.gpu.driver_version is not None:
            problems.append(
                Problem(
                    (*at[:-1], "gpu", "driverVersion"),
                    model.gpu.driver_version,
                    f"the class decides the driver of its nodes (computeClasses[{classes.index(cc)}].driverVersion); "
                    "remove it here",
                )
            )
    return problems
