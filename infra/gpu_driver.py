"""The NVIDIA driver installer DaemonSet, for GPU nodes whose drivers GKE does not install.

Created only when a pool sets ``driver: daemonset`` (GKE's ``INSTALLATION_DISABLED``) or an
existing cluster asks for it; never on Autopilot (config rejects it). The objects re-express
GoogleCloudPlatform/container-engine-accelerators ``nvidia-driver-installer/{cos,ubuntu}/
daemonset-preloaded.yaml`` at 992db81 (see ../shared/reference/): the installer image is the
one GKE preloads on GPU nodes, so nothing is pulled from outside the node.

Two deliberate differences from upstream: the Ubuntu variant is named
``nvidia-driver-installer-ubuntu`` so both variants can coexist in ``kube-system``, and each
variant's node affinity also requires its ``cloud.google.com/gke-os-distribution`` (``cos`` /
``ubuntu``), so a COS installer never lands on an Ubuntu node and vice versa.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra import naming

NAMESPACE = "kube-system"
APP_LABEL = "k8s-app"
# Preloaded images, pinned as upstream pins them.
COS_INSTALLER_IMAGE = "cos-nvidia-installer:fixed"
UBUNTU_INSTALLER_IMAGE = "gke-nvidia-installer:fixed"
PARTITION_GPUS_IMAGE = (
    "gcr.io/gke-release/nvidia-partition-gpu@sha256:de12f85ebfb4fb6c1893cd30c23aab662a72fa0448f97ef74fccb82d7522ef17"
)
PAUSE_IMAGE = "gke.gcr.io/pause:3.8@sha256:880e63f94b145e46f1b1082bb71b85e21f16b99b180b9996407d61240ceb9830"

# Upstream COS install script: skip when a driver module is already loaded.
COS_INSTALL_SCRIPT = """\
echo "Checking for existing GPU driver modules"
if lsmod | grep nvidia; then
  echo "GPU driver is already installed, the installed version may or may not be the driver version being tried to install, skipping installation"
  exit 0
else
  echo "No GPU driver module detected, installing now"
  /cos-gpu-installer install || exit 1
fi
"""

_Env = k8s.core.v1.EnvVarArgs
_Mount = k8s.core.v1.VolumeMountArgs


def daemonset_name(variant: str) -> str:
    return "nvidia-driver-installer" if variant == "cos" else "nvidia-driver-installer-ubuntu"


def _host_volume(name: str, path: str) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=name, host_path=k8s.core.v1.HostPathVolumeSourceArgs(path=path))


def node_affinity(variant: str) -> k8s.core.v1.AffinityArgs:
    """GPU nodes without a GKE-managed driver, of this variant's OS."""
    expressions = [
        k8s.core.v1.NodeSelectorRequirementArgs(key="cloud.google.com/gke-accelerator", operator="Exists"),
        # GKE sets this label on nodes whose driver it installs: leave those alone.
        k8s.core.v1.NodeSelectorRequirementArgs(key="cloud.google.com/gke-gpu-driver-version", operator="DoesNotExist"),
        k8s.core.v1.NodeSelectorRequirementArgs(
            key="cloud.google.com/gke-os-distribution", operator="In", values=[variant]
        ),
    ]
    if variant == "cos":
        expressions.insert(
            2,
            k8s.core.v1.NodeSelectorRequirementArgs(
                key="cloud.google.com/gke-confidential-nodes-instance-type", operator="DoesNotExist"
            ),
        )
    return k8s.core.v1.AffinityArgs(
        node_affinity=k8s.core.v1.NodeAffinityArgs(
            required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                node_selector_terms=[k8s.core.v1.NodeSelectorTermArgs(match_expressions=expressions)]
            )
        )
    )


def _cos_pod(variant: str) -> k8s.core.v1.PodSpecArgs:
    return k8s.core.v1.PodSpecArgs(
        priority_class_name="system-node-critical",
        affinity=node_affinity(variant),
        tolerations=[k8s.core.v1.TolerationArgs(operator="Exists")],
        host_network=True,
        host_pid=True,
        volumes=[
            _host_volume("dev", "/dev"),
            _host_volume("vulkan-icd-mount", "/home/kubernetes/bin/nvidia/vulkan/icd.d"),
            _host_volume("nvidia-install-dir-host", "/home/kubernetes/bin/nvidia"),
            _host_volume("root-mount", "/"),
            _host_volume("cos-tools", "/var/lib/cos-tools"),
            _host_volume("nvidia-config", "/etc/nvidia"),
        ],
        init_containers=[
            k8s.core.v1.ContainerArgs(
                name="nvidia-driver-installer",
                image=COS_INSTALLER_IMAGE,
                image_pull_policy="Never",
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "150m"}),
                security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
                env=[
                    _Env(name="NVIDIA_INSTALL_DIR_HOST", value="/home/kubernetes/bin/nvidia"),
                    _Env(name="NVIDIA_INSTALL_DIR_CONTAINER", value="/usr/local/nvidia"),
                    _Env(name="VULKAN_ICD_DIR_HOST", value="/home/kubernetes/bin/nvidia/vulkan/icd.d"),
                    _Env(name="VULKAN_ICD_DIR_CONTAINER", value="/etc/vulkan/icd.d"),
                    _Env(name="ROOT_MOUNT_DIR", value="/root"),
                    _Env(name="COS_TOOLS_DIR_HOST", value="/var/lib/cos-tools"),
                    _Env(name="COS_TOOLS_DIR_CONTAINER", value="/build/cos-tools"),
                ],
                volume_mounts=[
                    _Mount(name="nvidia-install-dir-host", mount_path="/usr/local/nvidia"),
                    _Mount(name="vulkan-icd-mount", mount_path="/etc/vulkan/icd.d"),
                    _Mount(name="dev", mount_path="/dev"),
                    _Mount(name="root-mount", mount_path="/root"),
                    _Mount(name="cos-tools", mount_path="/build/cos-tools"),
                ],
                command=["bash", "-c", COS_INSTALL_SCRIPT],
            ),
            k8s.core.v1.ContainerArgs(
                name="partition-gpus",
                image=PARTITION_GPUS_IMAGE,
                env=[_Env(name="LD_LIBRARY_PATH", value="/usr/local/nvidia/lib64")],
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "150m"}),
                security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
                volume_mounts=[
                    _Mount(name="nvidia-install-dir-host", mount_path="/usr/local/nvidia"),
                    _Mount(name="dev", mount_path="/dev"),
                    _Mount(name="nvidia-config", mount_path="/etc/nvidia"),
                ],
            ),
        ],
        containers=[k8s.core.v1.ContainerArgs(name="pause", image=PAUSE_IMAGE)],
    )


def _ubuntu_pod(variant: str) -> k8s.core.v1.PodSpecArgs:
    return k8s.core.v1.PodSpecArgs(
        priority_class_name="system-node-critical",
        affinity=node_affinity(variant),
        tolerations=[k8s.core.v1.TolerationArgs(operator="Exists")],
        volumes=[_host_volume("dev", "/dev"), _host_volume("boot", "/boot"), _host_volume("root-mount", "/")],
        init_containers=[
            k8s.core.v1.ContainerArgs(
                name="nvidia-driver-installer",
                image=UBUNTU_INSTALLER_IMAGE,
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "150m"}),
                security_context=k8s.core.v1.SecurityContextArgs(privileged=True),
                volume_mounts=[
                    _Mount(name="boot", mount_path="/boot"),
                    _Mount(name="dev", mount_path="/dev"),
                    _Mount(name="root-mount", mount_path="/root"),
                ],
            )
        ],
        containers=[k8s.core.v1.ContainerArgs(name="pause", image=PAUSE_IMAGE)],
    )


def pod_spec(variant: str) -> k8s.core.v1.PodSpecArgs:
    """The installer pod for ``cos`` or ``ubuntu`` nodes."""
    if variant == "cos":
        return _cos_pod(variant)
    if variant == "ubuntu":
        return _ubuntu_pod(variant)
    raise ValueError(f"unknown driver installer variant {variant!r}")


def variant_for_image_type(image_type: str) -> str:
    """``COS_CONTAINERD`` -> ``cos``; ``UBUNTU_CONTAINERD`` -> ``ubuntu``."""
    return "ubuntu" if image_type.startswith("UBUNTU") else "cos"


class NvidiaDriverInstaller(pulumi.ComponentResource):
    """One installer DaemonSet per node OS variant in use."""

    def __init__(
        self,
        name: str,
        variants: tuple[str, ...],
        environment: str,
        *,
        provider: pulumi.ProviderResource,
        deleted_with: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:gpu:NvidiaDriverInstaller", name, None, opts)
        self.daemonsets = []
        for variant in variants:
            ds_name = daemonset_name(variant)
            selector = {APP_LABEL: ds_name}
            labels = {**naming.k8s_labels(environment, "gpu-driver", ds_name), **selector}
            self.daemonsets.append(
                k8s.apps.v1.DaemonSet(
                    f"{name}-{variant}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=ds_name, namespace=NAMESPACE, labels=labels),
                    spec=k8s.apps.v1.DaemonSetSpecArgs(
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                        update_strategy=k8s.apps.v1.DaemonSetUpdateStrategyArgs(type="RollingUpdate"),
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, "name": ds_name}),
                            spec=pod_spec(variant),
                        ),
                    ),
                    # Deleting the cluster deletes the DaemonSet; destroy need not reach the API.
                    opts=pulumi.ResourceOptions(parent=self, provider=provider, deleted_with=deleted_with),
                )
            )
        self.register_outputs({"daemonsets": [d.metadata.name for d in self.daemonsets]})
