"""Which GKE-managed NVIDIA driver an Autopilot GPU pod selects, from the CUDA its image needs.

Autopilot installs the driver named by the pod's ``cloud.google.com/gke-gpu-driver-version``
selector (``default`` or ``latest``; without one it installs ``default``). A CUDA runtime needs a
driver of at least its branch; the vLLM image is started with ``python3 -m ...``, with no
entrypoint that could set up CUDA forward compatibility, so it is treated as needing it natively.

Not verified offline, and so dated here rather than asserted: the minimum driver branch per CUDA
release (NVIDIA's CUDA Toolkit release notes: 12.8 needs R570) and the branch GKE's ``default``
installs (R535 on the GKE 1.30-1.33 node versions per GKE's "Install NVIDIA GPU device drivers"
table, as of 2025-10). The one related source seen offline is COS's driver policy change
(cos.googlesource.com board-overlays, scripts/gpu_driver_versions) pointing ``LATEST`` at the
570.133.20 production branch. Re-check both when the image or GKE version moves.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_DRIVER_BRANCH = {"12.2": 535, "12.4": 550, "12.6": 560, "12.8": 570}
GKE_DEFAULT_BRANCH = 535


@dataclass(frozen=True)
class DriverChoice:
    version: str  # the gke-gpu-driver-version selector value
    reason: str  # shown by the plan (the pod's DRIVER_REASON annotation)


def autopilot_driver(cuda: str, image: str) -> DriverChoice:
    """``latest`` when the image's CUDA needs a newer branch than ``default`` installs, else ``default``."""
    if cuda not in MIN_DRIVER_BRANCH:
        raise ValueError(f"no minimum driver branch known for CUDA {cuda}; add it to MIN_DRIVER_BRANCH")
    need = MIN_DRIVER_BRANCH[cuda]
    if need > GKE_DEFAULT_BRANCH:
        return DriverChoice(
            "latest", f"{image} is built on CUDA {cuda} (driver R{need}+; default is R{GKE_DEFAULT_BRANCH})"
        )
    return DriverChoice(
        "default", f"{image} is built on CUDA {cuda} (driver R{need}+: default's R{GKE_DEFAULT_BRANCH} serves it)"
    )
