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
    # Where the maximum comes from, shown in config errors: Google's table, or (where that table
    # could not be read offline) the hardware bound of the largest shape carrying the GPUs.
    basis: str = "GKE's Autopilot GPU table (snapshot 2026-11-22)"


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
            # Re-checked 2026-12-01: no reachable copy of Google's table has these two rows (the
            # earlier ones copied the x2 row). Autopilot can give a pod at most what the largest G2
            # shape with that many L4s allocates: g2-standard-48 (4 L4) and g2-standard-96 (8 L4),
            # after GKE's reservations (allocatable() below). Autopilot's own bound may be lower.
            4: AutopilotLimits(0.5, 47.8, 1, 181.3, basis="the allocatable of g2-standard-48 (Google's table unread)"),
            8: AutopilotLimits(0.5, 95.6, 1, 369.4, basis="the allocatable of g2-standard-96 (Google's table unread)"),
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

# Boot disk types each family accepts. G2: "Standard Persistent Disk (pd-standard) isn't supported
# on instances that use the G2 machine type" (https://cloud.google.com/compute/docs/accelerator-optimized-machines,
# last updated 2026-04-13). N1 and E2 take all three persistent disk types.
BOOT_DISK_TYPES = {"g2": ("pd-balanced", "pd-ssd"), "n1": ("pd-balanced", "pd-ssd", "pd-standard")}

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


# Machine shapes: vCPUs and memory (GiB; Compute Engine's "GB" of machine memory is 2^30 bytes).
# Source: https://cloud.google.com/compute/docs/general-purpose-machines (N1 standard: 3.75 GB
# per vCPU, highmem 6.5, highcpu 0.9; E2 standard: 4 GB per vCPU) and
# https://cloud.google.com/compute/docs/accelerator-optimized-machines#g2-vms (G2 standard: 4 GB
# per vCPU); snapshot dated 2026-12-01.
_MEMORY_PER_VCPU = {"n1-standard": 3.75, "n1-highmem": 6.5, "n1-highcpu": 0.9, "e2-standard": 4.0, "g2-standard": 4.0}
_SHAPE = re.compile(r"^(n1-standard|n1-highmem|n1-highcpu|e2-standard|g2-standard)-(\d+)$")


@dataclass(frozen=True)
class Shape:
    vcpus: int
    memory_gib: float


def machine_shape(machine_type: str) -> Shape | None:
    """vCPUs and memory of a predefined machine type the stacks use; None for any other."""
    m = _SHAPE.match(machine_type)
    if not m:
        return None
    family, vcpus = m.group(1), int(m.group(2))
    if family.startswith("n1") and n1_vcpus(machine_type) is None:
        return None
    if family == "g2-standard" and machine_type not in G2_GPUS:
        return None
    if family == "e2-standard" and vcpus not in (2, 4, 8, 16, 32):
        return None
    return Shape(vcpus, vcpus * _MEMORY_PER_VCPU[family])


# What GKE reserves on a Standard node, so pods get the rest ("node allocatable"). Source: GKE,
# "Plan GKE Standard node sizes", section "Node allocatable resources"
# (https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes). Google's page could
# only be read in part offline: its example node output (a 4-vCPU node with a 100 GB boot disk:
# allocatable cpu 3920m, ephemeral-storage 47060071478 of a 98831908Ki filesystem) is official;
# the formulas below are the page's as quoted in full by secondary copies (pin-yi.me,
# 2024-09-02; MetalK8s; kURL docs), and they reproduce that example exactly. Dated 2026-12-01.
# CPU: 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% of any above 4.
_CPU_RESERVE = ((1, 0.06), (1, 0.01), (2, 0.005), (float("inf"), 0.0025))
# Memory: 255 MiB below 1 GiB; else 25% of the first 4 GiB, 20% of the next 4, 10% of the next
# 8, 6% of the next 112, 2% above 128; plus 100 MiB for the kubelet's eviction threshold.
_MEMORY_RESERVE = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02))
MEMORY_EVICTION_GIB = 100 / 1024


def _tiered(total: float, tiers: tuple[tuple[float, float], ...]) -> float:
    reserved, left = 0.0, total
    for size, rate in tiers:
        part = min(left, size)
        reserved += part * rate
        left -= part
        if left <= 0:
            break
    return reserved


@dataclass(frozen=True)
class Allocatable:
    cpu: float  # cores
    memory_gib: float
    ephemeral_gib: float


def allocatable(machine_type: str, boot_disk_gib: int) -> Allocatable | None:
    """What pods may request on one node of ``machine_type`` with a ``boot_disk_gib`` boot disk."""
    shape = machine_shape(machine_type)
    if shape is None:
        return None
    memory = shape.memory_gib
    memory_reserved = 255 / 1024 if memory < 1 else _tiered(memory, _MEMORY_RESERVE)
    return Allocatable(
        cpu=round(shape.vcpus - _tiered(shape.vcpus, _CPU_RESERVE), 4),
        memory_gib=round(memory - memory_reserved - MEMORY_EVICTION_GIB, 4),
        ephemeral_gib=ephemeral_allocatable(boot_disk_gib),
    )


# The node image's own partitions: a 100 GB boot disk leaves a 98831908 KiB (94.25 GiB) kubelet
# filesystem in the official example above; this is its difference, for every disk size.
BOOT_DISK_OS_GIB = 100 - 98_831_908 / 2**20


def ephemeral_allocatable(boot_disk_gib: int) -> float:
    """Local ephemeral storage pods may request on a node with this boot disk (GiB).

    GKE keeps the eviction threshold, 10% of the kubelet filesystem, and a system reservation of
    min(50% of the boot disk, 6 GiB + 35% of it, 100 GiB). 100 GB -> 43.83 GiB (the example's
    47060071478 bytes); 200 GB -> 98.82 GiB.
    """
    disk = float(boot_disk_gib)
    filesystem = disk - BOOT_DISK_OS_GIB
    return round(filesystem - 0.10 * filesystem - min(0.50 * disk, 6 + 0.35 * disk, 100), 4)


# The GCS FUSE CSI driver's sidecar, injected into every pod that mounts a bucket: its default
# requests (GoogleCloudPlatform/gcs-fuse-csi-driver cmd/webhook/main.go, 019e3317: cpu 250m,
# memory 256Mi, ephemeral-storage 5Gi; changed per pod with gke-gcsfuse/* annotations).
GCSFUSE_SIDECAR = Allocatable(cpu=0.25, memory_gib=0.25, ephemeral_gib=5.0)
