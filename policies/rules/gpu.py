"""GPU node-pool guardrails (``gcp:container/nodePool:NodePool`` with ``nodeConfig.guestAccelerators``).

The machine-pairing facts are a small copy of ``infra/catalog.py``: the pack runs from
``policies/`` in its own virtualenv and cannot import ``infra``. ``tests/test_policies_catalog.py``
fails when the two disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ._props import UNKNOWN, elements, get, number, resource_policy

NODE_POOL = "gcp:container/nodePool:NodePool"
GPU_TAINT_KEY = "nvidia.com/gpu"

# --- copied from infra/catalog.py (snapshot 2026-11-22; sources there) ---
T4, L4 = "nvidia-tesla-t4", "nvidia-l4"
ACCELERATOR_FAMILY = {T4: "n1", L4: "g2"}
T4_COUNTS = (1, 2, 4)
# https://cloud.google.com/compute/docs/gpus#t4-gpus: the most vCPUs an N1 VM may have per T4 count.
N1_MAX_VCPUS_FOR_T4 = {1: 48, 2: 48, 4: 96}
N1_SIZES = {
    "standard": (1, 2, 4, 8, 16, 32, 64, 96),
    "highmem": (2, 4, 8, 16, 32, 64, 96),
    "highcpu": (2, 4, 8, 16, 32, 64, 96),
}
# https://cloud.google.com/compute/docs/accelerator-optimized-machines#g2-vms: GPUs per G2 shape.
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
# --- end of copy ---
_N1 = re.compile(r"^n1-(standard|highmem|highcpu)-(\d+)$")


def accelerators(props: Any) -> list[Any] | Any:
    """``nodeConfig.guestAccelerators`` of a pool (UNKNOWN when unknown)."""
    return elements(props, "nodeConfig", "guestAccelerators")


def is_gpu_pool(props: Any) -> bool:
    """True when the pool attaches at least one GPU (unknown accelerators count as GPU)."""
    accs = accelerators(props)
    if accs is UNKNOWN:
        return True
    return any(acc is UNKNOWN or number(get(acc, "count", default=0)) != 0 for acc in accs)


def pairing_problem(accelerator: str, machine_type: str, count: int) -> str | None:
    """Why ``count`` x ``accelerator`` cannot run on ``machine_type``; None when it can or is not ours to judge."""
    family = ACCELERATOR_FAMILY.get(accelerator)
    if family is None:
        return None  # an accelerator this pack has no facts about
    if machine_type.split("-", 1)[0] != family:
        return f"{accelerator} attaches only to {family.upper()} machine types, not {machine_type}"
    if accelerator == T4:
        m = _N1.match(machine_type)
        if not m or int(m.group(2)) not in N1_SIZES[m.group(1)]:
            return f"{machine_type} is not a predefined N1 machine type"
        if count not in T4_COUNTS:
            return f"a T4 node carries 1, 2 or 4 GPUs, not {count}"
        vcpus = int(m.group(2))
        if vcpus > N1_MAX_VCPUS_FOR_T4[count]:
            return f"an N1 VM with {count} T4 may have at most {N1_MAX_VCPUS_FOR_T4[count]} vCPUs, {machine_type} has {vcpus}"
        return None
    fixed = G2_GPUS.get(machine_type)
    if fixed is None:
        return f"{machine_type} is not a G2 shape ({', '.join(G2_GPUS)})"
    if count != fixed:
        return f"{machine_type} carries exactly {fixed} L4 GPU(s), not {count}"
    return None


def check_taint(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if not is_gpu_pool(props):
        return
    taints = elements(props, "nodeConfig", "taints")
    if taints is UNKNOWN or any(t is UNKNOWN for t in taints):
        return
    # The provider spells effects NO_SCHEDULE / PREFER_NO_SCHEDULE / NO_EXECUTE.
    ok = any(get(t, "key") == GPU_TAINT_KEY and get(t, "effect") in ("NO_SCHEDULE", UNKNOWN) for t in taints)
    if not ok:
        yield (
            "GPU pool has no nvidia.com/gpu NO_SCHEDULE taint: GKE adds it only when a non-GPU pool "
            "already exists, and without it CPU pods land on (and keep awake) GPU nodes; add "
            "nodeConfig.taints [{key: nvidia.com/gpu, value: present, effect: NO_SCHEDULE}]"
        )


def check_autoscaling(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    if not is_gpu_pool(props):
        return
    autoscaling = get(props, "autoscaling")
    if autoscaling is UNKNOWN:
        return
    if autoscaling is None:
        yield "GPU pool has no autoscaling: set autoscaling with totalMinNodeCount (0 scales to zero) and totalMaxNodeCount"
        return
    lo = number(get(autoscaling, "totalMinNodeCount", default=get(autoscaling, "minNodeCount")))
    hi = number(get(autoscaling, "totalMaxNodeCount", default=get(autoscaling, "maxNodeCount")))
    if UNKNOWN in (lo, hi):
        return
    limit = number(config["maxNodes"])
    if hi is None:
        yield "GPU pool autoscaling has no maximum: set autoscaling.totalMaxNodeCount"
        return
    if lo is not None and lo > hi:
        yield f"GPU pool autoscaling minimum {lo} is above its maximum {hi}"
    if hi > limit:
        yield f"GPU pool may scale to {hi} nodes, above the {limit} this policy allows (config maxNodes)"


def check_pairing(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    machine = get(props, "nodeConfig", "machineType")
    accs = accelerators(props)
    if machine is UNKNOWN or accs is UNKNOWN or not isinstance(machine, str):
        return
    for acc in accs:
        kind, count = get(acc, "type"), number(get(acc, "count"))
        if UNKNOWN in (acc, kind, count) or not isinstance(kind, str) or not isinstance(count, int):
            continue
        problem = pairing_problem(kind, machine, count)
        if problem:
            yield f"{problem}; GKE rejects this pool at creation (see infra/catalog.py for valid shapes)"


taint = resource_policy(
    name="gpu-pool-taint",
    description="GPU node pools carry the nvidia.com/gpu NoSchedule taint, so only GPU pods run on GPU nodes.",
    types=[NODE_POOL],
    check=check_taint,
)

bounded_autoscaling = resource_policy(
    name="gpu-pool-bounded-autoscaling",
    description="GPU node pools autoscale between a minimum and a bounded maximum.",
    types=[NODE_POOL],
    check=check_autoscaling,
    config={
        "maxNodes": {
            "type": "integer",
            "minimum": 1,
            "default": 8,
            "description": "Largest autoscaling maximum (nodes, total across zones) a GPU pool may have.",
        }
    },
)

machine_pairing = resource_policy(
    name="gpu-machine-pairing",
    description="T4 GPUs run on N1 machine types (1, 2 or 4 per VM) and L4 GPUs on the G2 shape that carries that count.",
    types=[NODE_POOL],
    check=check_pairing,
)

POLICIES = [taint, bounded_autoscaling, machine_pairing]
