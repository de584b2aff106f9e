"""What every workload step gets: the validated config, the platform it runs on, and the few
things derived from them once (the namespace and what must exist in it first, the resource
options that route objects through the cluster's provider, the buckets' physical names).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.config import ModelGpu, StackConfig
from infra.platform import Platform


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

    def pools(self, gpu: ModelGpu | None) -> tuple[str, ...]:
        """The GKE node pools a pod asking for ``gpu`` may land on (Standard only)."""
        if gpu is None or self.cfg.cluster.mode != "standard":
            return ()
        return tuple(p.gke_name for p in self.cfg.pools_for_gpu(gpu))
