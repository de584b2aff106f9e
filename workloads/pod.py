"""Shared pieces of every serving pod: where it schedules, what it reserves, how it is probed,
drained and confined, and how it reads its model. Pure functions returning typed
``pulumi_kubernetes`` args, tested without mocks.

Facts relied on (DESIGN.md section 5 and the GKE docs it cites):

- Standard GPU nodes carry ``nvidia.com/gpu=present:NoSchedule`` (we set it explicitly on every
  pool), so GPU pods tolerate exactly that, select ``cloud.google.com/gke-accelerator`` and are
  pinned to the pools that can hold them with ``cloud.google.com/gke-nodepool``.
- Autopilot picks the node from the accelerator selector (and optionally
  ``cloud.google.com/gke-gpu-driver-version``); it adds the GPU toleration itself and rejects
  pods with no accelerator selector or with CPU/memory outside its per-GPU bounds
  (``infra.config`` checks the bounds).
- ``/dev/shm`` is a ``Memory`` emptyDir with a size limit; it counts against the memory limit.
- GCS FUSE: the CSI driver ``gcsfuse.csi.storage.gke.io`` mounts a bucket when the pod has the
  annotation ``gke-gcsfuse/volumes: "true"`` and its KSA has Workload Identity access.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra.coldstart import CACHE_VOLUME, FuseMount
from infra.config import COMPUTE_CLASS_LABEL
from infra.config.values import parse_quantity
from infra.node_pools import GPU_TAINT_KEY

ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
DRIVER_VERSION_LABEL = "cloud.google.com/gke-gpu-driver-version"
ZONE_LABEL = "topology.kubernetes.io/zone"
GPU_RESOURCE = "nvidia.com/gpu"
GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
GCSFUSE_ANNOTATION = "gke-gcsfuse/volumes"
MODEL_MOUNT = "/mnt/models"
SHM_VOLUME = "dshm"
MODEL_VOLUME = "model"
# automountServiceAccountToken of every pod built here: none calls the Kubernetes API, and Google
# credentials do not come from the Kubernetes token. With Workload Identity the client libraries
# ask the metadata server, which GKE answers for the pod's Google service account
# (cloud.google.com/kubernetes-engine/docs/concepts/workload-identity, "How it works"; Triton
# reading its gs:// repository does just that in tests/integration/test_triton.py, and no traced
# server there opens the token directory). The GCS
# FUSE CSI driver is handed a token by the kubelet because its CSIDriver requests one
# (tokenRequests, audience <project>.svc.id.goog: GoogleCloudPlatform/gcs-fuse-csi-driver
# deploy/base/setup/csi_driver.yaml), and its sidecar asks the metadata server for Google tokens
# (gcs-fuse-csi-driver#428); neither reads the pod's mounted token. The custom-metrics adapter
# (infra/metrics.py) calls the API and keeps its token.
NO_API_TOKEN = False
# Seconds a terminating pod keeps serving while endpoints and load balancers drop it.
DRAIN_SECONDS = 15
STARTUP_PERIOD_SECONDS = 10


@dataclass(frozen=True)
class Placement:
    """Where a pod may run: node selector, tolerations and the node pools it is pinned to."""

    node_selector: dict[str, str]
    tolerations: tuple[dict[str, str], ...] = ()
    node_pools: tuple[str, ...] = ()

    def affinity(self) -> k8s.core.v1.AffinityArgs | None:
        if not self.node_pools:
            return None
        term = k8s.core.v1.NodeSelectorTermArgs(
            match_expressions=[
                k8s.core.v1.NodeSelectorRequirementArgs(
                    key=NODE_POOL_LABEL, operator="In", values=list(self.node_pools)
                )
            ]
        )
        return k8s.core.v1.AffinityArgs(
            node_affinity=k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[term]
                )
            )
        )

    def toleration_args(self) -> list[k8s.core.v1.TolerationArgs] | None:
        return [k8s.core.v1.TolerationArgs(**t) for t in self.tolerations] or None


def gpu_toleration() -> dict[str, str]:
    """Tolerates exactly the taint our GPU pools carry. ``Equal``, never ``Exists``."""
    return {"key": GPU_TAINT_KEY, "operator": "Equal", "value": "present", "effect": "NoSchedule"}


def gpu_placement(
    accelerator: str,
    *,
    autopilot: bool,
    node_pools: tuple[str, ...] = (),
    driver_version: str | None = None,
) -> Placement:
    """Scheduling for a GPU pod: Autopilot by selector alone; Standard by selector, the GPU
    toleration and, when the stack owns the pools, affinity to the pools that can hold it."""
    selector = {ACCELERATOR_LABEL: accelerator}
    if autopilot:
        if driver_version:
            selector[DRIVER_VERSION_LABEL] = driver_version
        return Placement(node_selector=selector)
    return Placement(node_selector=selector, tolerations=(gpu_toleration(),), node_pools=tuple(node_pools))


def class_placement(compute_class: str, *, autopilot: bool) -> Placement:
    """Scheduling for a GPU pod on a custom ComputeClass: the class selector alone (GKE rejects a
    Pod that also selects a system label the class has a field for, such as
    ``cloud.google.com/gke-accelerator``: GKE, About custom ComputeClasses), the class's taint
    (``cloud.google.com/compute-class=<class>:NoSchedule``, what GKE documents for class node pools)
    and, on Standard, the GPU taint of GPU nodes."""
    class_taint = {"key": COMPUTE_CLASS_LABEL, "operator": "Equal", "value": compute_class, "effect": "NoSchedule"}
    tolerations = (class_taint,) if autopilot else (gpu_toleration(), class_taint)
    return Placement(node_selector={COMPUTE_CLASS_LABEL: compute_class}, tolerations=tolerations)


def cpu_placement() -> Placement:
    """CPU pods (front end, load generator) stay off GPU nodes: no GPU toleration, Linux nodes."""
    return Placement(node_selector={"kubernetes.io/os": "linux"})


def resources(cpu: str, memory: str, ephemeral_storage: str, gpus: int = 0) -> k8s.core.v1.ResourceRequirementsArgs:
    """Requests equal limits for every resource (Guaranteed QoS; Autopilot bills the requests)."""
    amounts = {"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeral_storage}
    if gpus:
        amounts[GPU_RESOURCE] = str(gpus)
    return k8s.core.v1.ResourceRequirementsArgs(requests=dict(amounts), limits=dict(amounts))


def default_shm_size(server: str, memory: str) -> str:
    """``/dev/shm`` when the model does not set one: vLLM (NCCL, tensor parallel) gets half the
    memory up to 16Gi, the others a quarter up to 1Gi. Always below the memory limit."""
    mem = parse_quantity(memory)
    cap, share = (16 * 2**30, 0.5) if server == "vllm" else (2**30, 0.25)
    return f"{max(1, math.floor(min(cap, mem * share) / 2**20))}Mi"


def shm_volume(size: str) -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    return (
        k8s.core.v1.VolumeArgs(
            name=SHM_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit=size)
        ),
        k8s.core.v1.VolumeMountArgs(name=SHM_VOLUME, mount_path="/dev/shm"),
    )


def gcs_path(uri: str) -> str:
    """The object prefix of ``gs://bucket/a/b`` -> ``a/b`` (empty for the bucket root)."""
    return uri.split("://", 1)[1].partition("/")[2].strip("/")


def gcsfuse_volume(
    bucket: pulumi.Input[str], path: str, uid: int, *, read_only: bool = True, extra: tuple[str, ...] = ()
) -> tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]:
    """A CSI ephemeral GCS FUSE volume of ``bucket`` (only ``path`` of it), owned by ``uid``;
    ``extra``: further mount options (the file cache: infra/coldstart.py)."""
    options = ["implicit-dirs", f"uid={uid}", f"gid={uid}"]
    if path:
        options.append(f"only-dir={path}")
    options += extra
    volume = k8s.core.v1.VolumeArgs(
        name=MODEL_VOLUME,
        csi=k8s.core.v1.CSIVolumeSourceArgs(
            driver=GCSFUSE_DRIVER,
            read_only=read_only,
            volume_attributes={"bucketName": bucket, "mountOptions": ",".join(options)},
        ),
    )
    return volume, k8s.core.v1.VolumeMountArgs(name=MODEL_VOLUME, mount_path=MODEL_MOUNT, read_only=read_only)


# Scratch directories: where a container with a read-only root writes ------------------------

# What the kubelet counts against a container's ephemeral-storage limit besides its emptyDirs:
# its own log files, at most containerLogMaxSize x containerLogMaxFiles (10Mi x 5 when the node
# pool does not set them: container v1 NodeKubeletConfig, which the stack leaves unset), and its
# writable layer, which a read-only root keeps empty.
CONTAINER_LOGS = 5 * 10 * 2**20
MI = 2**20


@dataclass(frozen=True)
class Scratch:
    """A directory a container writes: an emptyDir of its own with a size limit.

    ``size`` is what the directory needs at most; ``None`` marks the one directory that takes the
    rest of the container's ephemeral storage (where models and caches go)."""

    name: str
    path: str
    size: str | None = None


def scratch_sizes(ephemeral_storage: str, dirs: tuple[Scratch, ...]) -> dict[str, int]:
    """Bytes (whole MiB) each directory's emptyDir may hold.

    The budget is the ephemeral storage minus the container's own logs. Sized directories get their
    size, together at most half the budget (split evenly when they ask for more); the unsized one
    gets the rest. The limits add up to no more than the budget, so a full directory is evicted for
    its own limit before the container's limit is reached.
    """
    rest = [d for d in dirs if d.size is None]
    if len(rest) != 1:
        raise ValueError(f"exactly one scratch directory takes the rest of the budget, not {len(rest)}")
    budget = int(parse_quantity(ephemeral_storage)) - CONTAINER_LOGS
    sized = [d for d in dirs if d.size is not None]
    share = budget // 2 // max(1, len(sized))
    out = {d.name: min(int(parse_quantity(d.size)), share) // MI * MI for d in sized}
    out[rest[0].name] = (budget - sum(out.values())) // MI * MI
    if out[rest[0].name] <= 0:
        raise ValueError(f"ephemeral storage {ephemeral_storage} leaves nothing for {rest[0].path}")
    return {d.name: out[d.name] for d in dirs}


def scratch_volumes(
    ephemeral_storage: str, dirs: tuple[Scratch, ...]
) -> list[tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]]:
    sizes = scratch_sizes(ephemeral_storage, dirs)
    return [
        (
            k8s.core.v1.VolumeArgs(
                name=d.name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=f"{sizes[d.name] // MI}Mi")
            ),
            k8s.core.v1.VolumeMountArgs(name=d.name, mount_path=d.path),
        )
        for d in dirs
    ]


# A /tmp for an image whose writes no test here sees (the predictor, the front end, Locust, a
# configured conversion image): the one place an image without a writable root expects to write.
TMP = Scratch("tmp", "/tmp")


@dataclass(frozen=True)
class HttpCheck:
    path: str
    port: str  # container port name


@dataclass(frozen=True)
class ExecCheck:
    """A command the kubelet runs in the container: success is exit status 0 within the timeout."""

    command: tuple[str, ...]


Check = HttpCheck | ExecCheck


@dataclass(frozen=True)
class Probes:
    startup: Check
    readiness: Check
    liveness: Check
    startup_seconds: int

    @classmethod
    def on(cls, check: Check, startup_seconds: int) -> Probes:
        """One health endpoint for all three probes (vLLM, the predictor, the front end)."""
        return cls(startup=check, readiness=check, liveness=check, startup_seconds=startup_seconds)


def _probe(check: Check, **kw) -> k8s.core.v1.ProbeArgs:
    if isinstance(check, ExecCheck):
        return k8s.core.v1.ProbeArgs(exec_=k8s.core.v1.ExecActionArgs(command=list(check.command)), **kw)
    return k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path=check.path, port=check.port), **kw)


def probe_args(probes: Probes) -> dict[str, k8s.core.v1.ProbeArgs]:
    """Startup sized for model load (minutes), then readiness and liveness on the server's own
    health endpoints. Liveness only starts after startup succeeded, so a slow load never kills."""
    return {
        "startup_probe": _probe(
            probes.startup,
            period_seconds=STARTUP_PERIOD_SECONDS,
            timeout_seconds=5,
            failure_threshold=math.ceil(probes.startup_seconds / STARTUP_PERIOD_SECONDS),
        ),
        "readiness_probe": _probe(probes.readiness, period_seconds=10, timeout_seconds=5, failure_threshold=3),
        "liveness_probe": _probe(probes.liveness, period_seconds=15, timeout_seconds=5, failure_threshold=4),
    }


def termination_grace(shutdown_seconds: int) -> int:
    """The pod's grace period: the preStop drain plus the server's own shutdown time."""
    return DRAIN_SECONDS + shutdown_seconds


def drain_lifecycle() -> k8s.core.v1.LifecycleArgs:
    """preStop: keep serving for ``DRAIN_SECONDS`` while the pod leaves Service endpoints.

    The kubelet's built-in sleep action (KEP-3960, on by default since Kubernetes 1.30) needs no
    ``sleep`` binary in the image.
    """
    return k8s.core.v1.LifecycleArgs(
        pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=DRAIN_SECONDS))
    )


def pod_security(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security(uid: int) -> k8s.core.v1.SecurityContextArgs:
    """Non-root, no privilege, and a read-only root: a container writes only to its scratch dirs."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        read_only_root_filesystem=True,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def root_pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    """For an image that can only run as root (workloads/jobs.py ROOT_IMAGES): uid 0, said openly."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=False, run_as_user=0, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")
    )


def root_container_security() -> k8s.core.v1.SecurityContextArgs:
    """Root, but without capabilities, privilege escalation or an unconfined seccomp profile.

    The root file system stays writable, said openly: the one image that needs root
    (workloads/jobs.py ROOT_IMAGES) writes into its own folders."""
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=False,
        run_as_user=0,
        read_only_root_filesystem=False,
        allow_privilege_escalation=False,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def zone_spread(selector: dict[str, str]) -> list[k8s.core.v1.TopologySpreadConstraintArgs]:
    """Spread replicas over zones, best effort: GPU capacity is scarce, so never block on it."""
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=ZONE_LABEL,
            when_unsatisfiable="ScheduleAnyway",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
        )
    ]


@dataclass
class PodParts:
    """Volumes, mounts and annotations a pod collects from its pieces."""

    volumes: list[k8s.core.v1.VolumeArgs] = field(default_factory=list)
    mounts: list[k8s.core.v1.VolumeMountArgs] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    def add(self, volume: k8s.core.v1.VolumeArgs, mount: k8s.core.v1.VolumeMountArgs) -> None:
        self.volumes.append(volume)
        self.mounts.append(mount)

    def add_scratch(self, ephemeral_storage: str, dirs: tuple[Scratch, ...]) -> None:
        for volume, mount in scratch_volumes(ephemeral_storage, dirs):
            self.add(volume, mount)

    def add_gcsfuse(
        self, bucket: pulumi.Input[str], path: str, uid: int, *, read_only: bool = True, cache: FuseMount | None = None
    ) -> None:
        """Mount the bucket; ``cache``: its file cache's mount options, the sidecar's resources
        (annotations) and, for a Memory cache, the pod's own ``gke-gcsfuse-cache`` emptyDir, which
        the webhook then mounts into the sidecar instead of its disk-backed one."""
        cache = cache or FuseMount()
        self.add(*gcsfuse_volume(bucket, path, uid, read_only=read_only, extra=cache.options))
        self.annotations[GCSFUSE_ANNOTATION] = "true"
        self.annotations.update(dict(cache.annotations))
        if cache.memory_volume:
            self.volumes.append(
                k8s.core.v1.VolumeArgs(
                    name=CACHE_VOLUME,
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit=cache.memory_volume),
                )
            )
