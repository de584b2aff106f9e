"""Accelerator facts the configuration rules rely on.

Everything a config rule says about GPUs comes from here: which machine family an accelerator
attaches to, how many GPUs a machine shape carries, where each accelerator is offered, and
what an Autopilot GPU pod may request. The data is dated and names its source; when Google
adds a zone or a shape, this module is the one place to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

T4 = "nvidia-tesla-t4"
L4 = "nvidia-l4"

# Zones where each accelerator is offered. GKE can only create GPU nodes in these zones.
# Source: https://cloud.google.com/compute/docs/gpus/gpu-regions-zones ("GPU regions and
# zones availability"); snapshot dated 2026-11-22. Google adds zones often: before relying
# on a region, confirm with `gcloud compute accelerator-types list --filter="name=nvidia-l4"`
# (or nvidia-tesla-t4) and update this table.
_T4_ZONES = {
    "asia-east1": ("a", "c"),
    "asia-east2": ("a",),
    "asia-northeast1": ("a", "c"),
    "asia-northeast3": ("b", "c"),
    "asia-south1": ("a", "b"),
    "asia-southeast1": ("a", "b", "c"),
    "asia-southeast2": ("a", "b"),
    "australia-southeast1": ("a",),
    "europe-central2": ("b", "c"),
    "europe-west1": ("b", "c", "d"),
    "europe-west2": ("a", "b"),
    "europe-west3": ("b",),
    "europe-west4": ("b", "c"),
    "me-west1": ("a", "b"),
    "northamerica-northeast1": ("c",),
    "southamerica-east1": ("a", "c"),
    "us-central1": ("a", "b", "c", "f"),
    "us-east1": ("c", "d"),
    "us-east4": ("a", "b", "c"),
    "us-west1": ("a", "b"),
    "us-west2": ("b", "c"),
    "us-west3": ("b",),
    "us-west4": ("a", "b"),
}
_L4_ZONES = {
    "asia-east1": ("a", "c"),
    "asia-northeast1": ("a", "c"),
    "asia-northeast3": ("a", "b"),
    "asia-south1": ("a", "b", "c"),
    "asia-southeast1": ("a", "b", "c"),
    "europe-west1": ("b", "c"),
    "europe-west2": ("a", "b"),
    "europe-west3": ("b",),
    "europe-west4": ("a", "b", "c"),
    "europe-west6": ("b",),
    "me-central2": ("a", "c"),
    "northamerica-northeast2": ("a", "b"),
    "us-central1": ("a", "b", "c"),
    "us-east1": ("b", "c", "d"),
    "us-east4": ("a", "c"),
    "us-west1": ("a", "b", "c"),
    "us-west4": ("a", "c"),
}


@dataclass(frozen=True)
class AutopilotLimits:
    """Per-pod CPU (vCPU) and memory (GiB) bounds Autopilot accepts for a GPU count."""

    cpu_min: float
    cpu_max: float
    memory_min_gib: float
    memory_max_gib: float


@dataclass(frozen=True)
class Accelerator:
    """One accelerator type and the machine family it attaches to."""

    name: str
    display: str
    machine_family: str
    zones: dict[str, tuple[str, ...]]
    # GPU counts a node of this family may carry (for G2 the shape fixes it; see gpus_for_machine).
    counts: tuple[int, ...]
    # Autopilot bounds per GPU count.
    autopilot: dict[int, AutopilotLimits]

    def zones_in(self, region: str) -> tuple[str, ...]:
        """Full zone names of ``region`` where this accelerator is offered."""
        return tuple(f"{region}-{z}" for z in self.zones.get(region, ()))

    def offered_in(self, location: str) -> bool:
        """True when ``location`` (a region or a zone) offers this accelerator."""
        if is_zone(location):
            return location in self.zones_in(region_of(location))
        return bool(self.zones.get(location))


# Autopilot GPU pod bounds (per pod, by GPU count). Source:
# https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests#min-max-requests
# ("Minimum and maximum resource requests", GPUs); snapshot dated 2026-11-22. T4 pods may ask
# for 1, 2 or 4 GPUs, L4 pods for 1, 2, 4 or 8 (https://cloud.google.com/kubernetes-engine/docs/how-to/autopilot-gpus).
ACCELERATORS: dict[str, Accelerator] = {
    T4: Accelerator(
        name=T4,
        display="NVIDIA T4",
        machine_family="n1",
        zones=_T4_ZONES,
        counts=(1, 2, 4),
        autopilot={
            1: AutopilotLimits(0.5, 46, 0.5, 287.5),
            2: AutopilotLimits(0.5, 46, 0.5, 287.5),
            4: AutopilotLimits(0.5, 94, 0.5, 587.5),
        },
    ),
    L4: Accelerator(
        name=L4,
        display="NVIDIA L4",
        machine_family="g2",
        zones=_L4_ZONES,
        counts=(1, 2, 4, 8),
        autopilot={
            1: AutopilotLimits(0.5, 31, 1, 115),
            2: AutopilotLimits(0.5, 23, 1, 77),
            4: AutopilotLimits(0.5, 23, 1, 77),
            8: AutopilotLimits(0.5, 23, 1, 77),
        },
    ),
}

# GPUs each G2 shape carries. Source: https://cloud.google.com/compute/docs/accelerator-optimized-machines#g2-vms
# (G2 machine types); snapshot dated 2026-11-22.
G2_GPUS = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-24": 2,
    "g2-standard-32": 1,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
}

# N1 shapes T4s attach to, and the most vCPUs an N1 VM may have for a T4 count.
# Source: https://cloud.google.com/compute/docs/gpus#t4-gpus (N1 + T4 table); snapshot dated 2026-11-22.
N1_MAX_VCPUS_FOR_T4 = {1: 48, 2: 48, 4: 96}
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")
_N1_SIZES = {
    "standard": (1, 2, 4, 8, 16, 32, 64, 96),
    "highmem": (2, 4, 8, 16, 32, 64, 96),
    "highcpu": (2, 4, 8, 16, 32, 64, 96),
}

_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-([a-z])$")
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


def is_zone(location: str) -> bool:
    """``us-central1-a`` is a zone; ``us-central1`` is a region."""
    return bool(_ZONE.match(location))


def is_region(location: str) -> bool:
    return bool(_REGION.match(location))


def region_of(location: str) -> str:
    """The region of a zone, or the region itself."""
    m = _ZONE.match(location)
    return m.group(1) if m else location


def machine_family(machine_type: str) -> str:
    """``n1-standard-8`` -> ``n1``."""
    return machine_type.split("-", 1)[0]


def n1_vcpus(machine_type: str) -> int | None:
    """vCPUs of a predefined N1 shape, or None when it is not one."""
    m = _N1.match(machine_type)
    if not m or int(m.group(2)) not in _N1_SIZES[m.group(1)]:
        return None
    return int(m.group(2))


def gpus_for_machine(machine_type: str) -> int | None:
    """GPUs a G2 shape carries (fixed by the shape), or None for other families."""
    return G2_GPUS.get(machine_type)


def check_pairing(accelerator: str, machine_type: str, count: int) -> tuple[str, str] | None:
    """Why ``count`` x ``accelerator`` cannot run on ``machine_type``, or None when it can.

    Returns ``(field, sentence)``: the pool key at fault (``machineType`` or ``gpusPerNode``)
    and the problem with its fix, ready for a config error message.
    """
    acc = ACCELERATORS.get(accelerator)
    if acc is None:
        known = ", ".join(sorted(ACCELERATORS))
        return "accelerator", f"unknown accelerator {accelerator!r}; use one of {known}"
    family = machine_family(machine_type)
    if family != acc.machine_family:
        example = "n1-standard-8" if acc.machine_family == "n1" else "g2-standard-8"
        return "machineType", (
            f"{acc.display} attaches only to {acc.machine_family.upper()} machine types, "
            f"not {machine_type!r}; use an {acc.machine_family}-* machine type such as {example}"
        )
    if acc.name == T4:
        vcpus = n1_vcpus(machine_type)
        if vcpus is None:
            return "machineType", f"{machine_type!r} is not a predefined N1 machine type; use e.g. n1-standard-8"
        if count not in acc.counts:
            return "gpusPerNode", f"a T4 node carries 1, 2 or 4 GPUs, not {count}; set gpusPerNode to 1, 2 or 4"
        if vcpus > N1_MAX_VCPUS_FOR_T4[count]:
            return "machineType", (
                f"an N1 VM with {count} T4 may have at most {N1_MAX_VCPUS_FOR_T4[count]} vCPUs, "
                f"{machine_type!r} has {vcpus}; pick a smaller N1 shape or more GPUs"
            )
        return None
    fixed = gpus_for_machine(machine_type)
    if fixed is None:
        shapes = ", ".join(G2_GPUS)
        return "machineType", f"{machine_type!r} is not a G2 shape; use one of {shapes}"
    if count != fixed:
        return (
            "gpusPerNode",
            f"{machine_type} carries exactly {fixed} L4 GPU(s), not {count}; set gpusPerNode to {fixed}",
        )
    return None
