"""What every workload step gets: the validated config, the platform it runs on, and the few
things derived from them once (the namespace and what must exist in it first, the resource
options that route objects through the cluster's provider, the buckets' physical names).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.config import ModelGpu, StackConfig
from infra.config.values import mirror_image
from infra.platform import Platform
from infra.registry import streaming_verdict


@dataclass(frozen=True)
class Context:
    cfg: StackConfig
    platform: Platform
    namespace: str
    in_namespace: tuple[pulumi.Resource, ...]
    buckets: dict[str, pulumi.Input[str]]

    @classmethod
    def of(cls, cfg: StackConfig, platform: Platform) -> Context:
        ns = cfg.identity.namespace
        namespace = platform.namespaces.get(ns)
        return cls(
            cfg=cfg,
            platform=platform,
            namespace=ns,
            in_namespace=(namespace,) if namespace else (),
            buckets={key: b.name for key, b in platform.buckets.items()},
        )

    @property
    def provider(self) -> pulumi.ProviderResource:
        return self.platform.cluster.provider

    @property
    def deleted_with(self) -> pulumi.Resource:
        """Every object is deleted with the cluster: deleting the cluster deletes them anyway."""
        return self.platform.cluster.resource

    @property
    def cluster_opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.provider, deleted_with=self.deleted_with)

    @property
    def base(self) -> pulumi.ResourceOptions:
        """Options of an object in the stack's namespace: after the namespace exists."""
        return pulumi.ResourceOptions.merge(
            self.cluster_opts, pulumi.ResourceOptions(depends_on=list(self.in_namespace))
        )

    def server_image(self, image: str) -> str:
        """A model server's image as its pods pull it: through the remote repository caching its
        registry when ``registry.mirrorServerImages`` is on, else (or on any other registry) as written."""
        registry = self.platform.registry
        if registry is None or not self.cfg.registry.mirror_server_images:
            return image
        return mirror_image(image, registry.mirrors)

    def pulls(self, image: str) -> list[pulumi.Resource]:
        """What a pod pulling ``image`` waits for: the stack repository holding it and the nodes' read grant."""
        return self.platform.registry.pulls(image) if self.platform.registry else []

    def streams(self, image: str, gpu: ModelGpu | None) -> str:
        """Whether GKE streams ``image`` on the nodes a pod asking for ``gpu`` lands on: Autopilot
        nodes always do ("Autopilot clusters automatically use Image streaming to pull eligible
        images", GKE, Use Image streaming); Standard ones when image streaming is on and every
        pool the pod may land on runs COS with containerd (the page's Requirements); an existing
        cluster's nodes are not known here."""
        cfg = self.cfg
        if cfg.autopilot:
            on: bool | None = True
        elif cfg.cluster.mode == "existing":
            on = None
        else:
            pools = cfg.pools_for_gpu(gpu) if gpu is not None else ()
            on = cfg.cluster.image_streaming and all(p.image_type == "COS_CONTAINERD" for p in pools)
        modes = self.platform.registry.modes if self.platform.registry else {}
        return streaming_verdict(image, modes, on)

    def pools(self, gpu: ModelGpu | None) -> tuple[str, ...]:
        """The GKE node pools a pod asking for ``gpu`` may land on (Standard only)."""
        if gpu is None or self.cfg.cluster.mode != "standard":
            return ()
        return tuple(p.gke_name for p in self.cfg.pools_for_gpu(gpu))
