"""The GKE cluster in one of three modes, and the one Kubernetes provider everything uses.

- ``standard``: the default pool is removed at creation and replaced by a small system pool
  the stack owns; GPU pools come from :mod:`infra.node_pools`.
- ``autopilot``: the same cluster features where Autopilot allows them; no node pools.
- ``existing``: the cluster is read (``gcp.container.getCluster``) and nothing is created, so
  the stack manages only what runs on it (seed 001's ``EXISTING_CLUSTER_ID``).

Its plain inputs (:class:`ClusterArgs`) and the arguments Standard and Autopilot share are in
:mod:`infra.cluster_spec`.

Whatever the mode, the component yields a kubeconfig that authenticates through
``gke-gcloud-auth-plugin`` (no static token ends up in state) and one explicit
``kubernetes.Provider``; no Kubernetes object ever falls back to the ambient kubeconfig. The
kubeconfig points at GKE's DNS-based control-plane endpoint by default: it is gated by IAM
(``container.clusters.connect``) instead of by source address, so the deploy workflow's
GitHub-hosted runners reach a cluster whose IP endpoint admits only authorized networks.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra import naming
from infra.apis import BINARY_AUTHORIZATION_API, CLUSTER_TELEMETRY_APIS, IMAGE_STREAMING_API, ProjectApis
from infra.cluster_spec import ClusterArgs, common_arguments
from infra.kubeconfig import kubeconfig

# Cloud-platform scope + IAM on the node service account is GKE's recommended model: access is
# decided by IAM roles, not by legacy scopes.
NODE_OAUTH_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# GKE's least-privilege role for node service accounts (logging, monitoring, metadata).
# Source: https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa
NODE_SA_ROLES = ("roles/container.defaultNodeServiceAccount",)
# Image streaming with a custom node service account: "Service Usage Consumer
# (roles/serviceusage.serviceUsageConsumer)" on the project (GKE, Use Image streaming,
# Requirements); the least-privilege role above lacks serviceusage.services.use.
# terraform-google-kubernetes-engine grants it exactly when gcfs is on (sa.tf).
IMAGE_STREAMING_ROLE = "roles/serviceusage.serviceUsageConsumer"
NODE_METADATA = {"disable-legacy-endpoints": "true"}


def node_sa_roles(image_streaming: bool) -> tuple[str, ...]:
    """Project roles of the stack's node service account."""
    return NODE_SA_ROLES + ((IMAGE_STREAMING_ROLE,) if image_streaming else ())


class GkeCluster(pulumi.ComponentResource):
    """A GKE cluster (created or read) with its kubeconfig and Kubernetes provider."""

    name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    resource: gcp.container.Cluster | None
    node_service_account: gcp.serviceaccount.Account | None
    # The node identity's project roles: a pool's nodes need them from their first boot.
    node_roles: list[gcp.projects.IAMMember]
    # ``<project>.svc.id.goog`` as the cluster reports it: the pool exists only once a Workload
    # Identity cluster does, so grants to it are built from this output and wait for the cluster.
    workload_pool: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: ClusterArgs,
        *,
        apis: ProjectApis,
        network: pulumi.Input[str] | None = None,
        subnetwork: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:cluster:GkeCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.resource = None
        self.node_service_account = None
        self.node_roles = []
        self.system_pool = None

        if args.mode == "existing":
            found = gcp.container.get_cluster_output(
                name=args.name,
                location=args.location,
                project=args.project,
                opts=apis.invoke_opts("gcp:container/getCluster:getCluster"),
            )
            self.name = found.name
            self.workload_pool = found.workload_identity_configs.apply(lambda w: w[0].workload_pool)
            if args.kubeconfig_via == "dns":
                server = found.control_plane_endpoints_configs.apply(lambda c: c[0].dns_endpoint_configs[0].endpoint)
                ca = pulumi.Output.from_input(None)
            else:
                server = found.endpoint
                ca = found.master_auths.apply(lambda auths: auths[0].cluster_ca_certificate)
        else:
            self.node_service_account = gcp.serviceaccount.Account(
                f"{name}-nodes",
                account_id=naming.service_account_id(args.prefix, "nodes"),
                display_name=f"GKE nodes of {args.name}",
                description="Least-privilege node identity (logging, monitoring, image pulls); workloads use Workload Identity.",
                project=args.project,
                opts=apis.opts(gcp.serviceaccount.Account, child),
            )
            self.node_roles = [
                gcp.projects.IAMMember(
                    f"{name}-nodes-{role.split('/')[-1]}",
                    project=args.project,
                    role=role,
                    member=self.node_service_account.member,
                    opts=apis.opts(gcp.projects.IAMMember, child),
                )
                for role in node_sa_roles(args.image_streaming)
            ]
            # The cluster's first nodes (Standard's transient default pool, Autopilot's nodes) boot
            # as the node identity, so its roles come first; its telemetry and image streaming
            # APIs are called from the first node on.
            feature_apis = CLUSTER_TELEMETRY_APIS + ((IMAGE_STREAMING_API,) if args.image_streaming else ())
            feature_apis += (BINARY_AUTHORIZATION_API,) if args.binary_authorization else ()
            cluster_opts = apis.opts(
                gcp.container.Cluster,
                pulumi.ResourceOptions(parent=self, depends_on=self.node_roles),
                also=feature_apis,
            )
            cluster = (
                self._standard(name, args, network, subnetwork, cluster_opts)
                if args.mode == "standard"
                else self._autopilot(name, args, network, subnetwork, cluster_opts)
            )
            self.resource = cluster
            self.name = cluster.name
            self.workload_pool = cluster.workload_identity_config.apply(lambda w: w.workload_pool)
            if args.kubeconfig_via == "dns":
                server = cluster.control_plane_endpoints_config.apply(lambda c: c.dns_endpoint_config.endpoint)
                ca = pulumi.Output.from_input(None)
            else:
                server = cluster.endpoint
                ca = cluster.master_auth.cluster_ca_certificate
            if args.mode == "standard":
                self.system_pool = self._system_pool(name, args, cluster, apis)

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.name, server, ca).apply(lambda v: kubeconfig(v[0], v[1], v[2]))
        )
        provider_deps = [self.system_pool] if self.system_pool is not None else []
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=provider_deps),
        )
        self.register_outputs({"name": self.name, "kubeconfig": self.kubeconfig})

    def _node_config_security(self) -> dict:
        return dict(
            service_account=self.node_service_account.email,
            oauth_scopes=list(NODE_OAUTH_SCOPES),
            workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
            metadata=NODE_METADATA,
        )

    def _standard(
        self, name: str, args: ClusterArgs, network, subnetwork, opts: pulumi.ResourceOptions
    ) -> gcp.container.Cluster:
        return gcp.container.Cluster(
            name,
            **common_arguments(args, network, subnetwork),
            # The default pool cannot be configured well after creation: remove it and run a
            # pool the stack owns. It still exists for a few minutes during creation, so it gets
            # the least-privilege identity too (orgs that disable the default compute SA would
            # otherwise fail here).
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(**self._node_config_security()),
            node_pool_defaults=gcp.container.ClusterNodePoolDefaultsArgs(
                node_config_defaults=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                    gcfs_config=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsGcfsConfigArgs(
                        enabled=args.image_streaming
                    )
                )
            ),
            enable_shielded_nodes=True,
            # Dataplane V2: NetworkPolicy enforcement without the Calico add-on.
            datapath_provider="ADVANCED_DATAPATH",
            # Same-node pod traffic goes through the VPC, so flow logs and firewall rules see it.
            # Standard only: the provider rejects it with enable_autopilot.
            enable_intranode_visibility=args.intranode_visibility or None,
            cluster_autoscaling=self._autoprovisioning(args),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(ignore_changes=["nodeConfig", "initialNodeCount"])
            ),
        )

    def _autoprovisioning(self, args: ClusterArgs) -> gcp.container.ClusterClusterAutoscalingArgs | None:
        """Node auto-provisioning for the compute classes' node pools. GKE creates a class's pools
        itself from 1.33.3-gke.1136000 (Rapid channel); before that "you must also enable
        cluster-level node auto-provisioning" (GKE, About custom ComputeClasses), so the stack always
        does. Its limits count every node pool of the cluster, not only the auto-created ones (GKE,
        About node auto-provisioning, "Resource limits"); the new pools get the stack's node
        identity and the same hardening as the pools the stack creates."""
        if not args.autoprovisioning_limits:
            return None
        return gcp.container.ClusterClusterAutoscalingArgs(
            enabled=True,
            resource_limits=[
                gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type=kind, minimum=0, maximum=most)
                for kind, most in args.autoprovisioning_limits
            ],
            auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
                service_account=self.node_service_account.email,
                oauth_scopes=list(NODE_OAUTH_SCOPES),
                image_type="COS_CONTAINERD",
                management=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsManagementArgs(
                    auto_repair=True, auto_upgrade=True
                ),
                shielded_instance_config=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
            ),
        )

    def _autopilot(
        self, name: str, args: ClusterArgs, network, subnetwork, opts: pulumi.ResourceOptions
    ) -> gcp.container.Cluster:
        return gcp.container.Cluster(
            name,
            **common_arguments(args, network, subnetwork),
            enable_autopilot=True,
            cluster_autoscaling=gcp.container.ClusterClusterAutoscalingArgs(
                auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
                    service_account=self.node_service_account.email,
                    oauth_scopes=list(NODE_OAUTH_SCOPES),
                )
            ),
            opts=opts,
        )

    def _system_pool(
        self, name: str, args: ClusterArgs, cluster: gcp.container.Cluster, apis: ProjectApis
    ) -> gcp.container.NodePool:
        return gcp.container.NodePool(
            f"{name}-system",
            name=naming.budget_name(
                "system", naming.machine_short(args.system_machine_type), max_len=naming.NODE_POOL_NAME_MAX
            ),
            project=args.project,
            cluster=cluster.id,
            location=args.location,
            initial_node_count=1,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=args.system_min_nodes,
                total_max_node_count=args.system_max_nodes,
                location_policy="BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(
                strategy="SURGE", max_surge=1, max_unavailable=0
            ),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=args.system_machine_type,
                image_type="COS_CONTAINERD",
                disk_size_gb=args.system_disk_size_gb,
                disk_type="pd-balanced",
                service_account=self.node_service_account.email,
                oauth_scopes=list(NODE_OAUTH_SCOPES),
                workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
                shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                gcfs_config=gcp.container.NodePoolNodeConfigGcfsConfigArgs(enabled=args.image_streaming),
                metadata=NODE_METADATA,
                labels={f"{naming.PROJECT}/pool": "system"},
                resource_labels=args.labels,
            ),
            # initialNodeCount forces replacement and autoscaling owns the count after creation.
            opts=apis.opts(
                gcp.container.NodePool,
                pulumi.ResourceOptions(parent=self, depends_on=self.node_roles, ignore_changes=["initialNodeCount"]),
            ),
        )
