"""A VPC-native network for the cluster: VPC, subnet with pod/service secondary ranges, NAT.

GKE's VPC-native mode (alias IPs) needs a subnet with two secondary ranges, one for pods and
one for services. Private nodes have no external IP, so without Cloud NAT they cannot pull
images from registries outside Google or reach Hugging Face; the router and NAT are created
exactly when ``cluster.privateNodes`` is set. When a model is served through an Inference Gateway,
the VPC also gets a proxy-only subnet in the region: GKE's regional gateway classes are Envoy-based
load balancers whose proxies run in it ("You must enable a proxy-only subnet", GKE, Deploy GKE
Inference Gateway; compute.v1 Subnetwork.purpose REGIONAL_MANAGED_PROXY: "Subnetwork used for
Regional Envoy-based Load Balancing", role ACTIVE: "currently used"). With ``network.mode:
existing`` nothing is created and the names in config are passed through.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.apis import ProjectApis
from infra.config import ComponentArgs

PROXY_ONLY_PURPOSE = "REGIONAL_MANAGED_PROXY"
PROXY_ONLY_ROLE = "ACTIVE"


class NetworkArgs(ComponentArgs):
    """Plain inputs of :class:`Network` (see ``gke-gpu-serving:network`` in the README)."""

    prefix: str
    project: str
    region: str
    mode: str = "create"
    existing_network: str | None = None
    existing_subnetwork: str | None = None
    nodes_cidr: str = "10.10.0.0/20"
    pods_cidr: str = "10.16.0.0/14"
    services_cidr: str = "10.20.0.0/20"
    pods_range_name: str = "pods"
    services_range_name: str = "services"
    nat: bool = False
    # VPC flow logs on the nodes' subnet (None: off).
    flow_logs_sampling: float | None = None
    flow_logs_interval: str = "INTERVAL_5_SEC"
    flow_logs_metadata: str = "INCLUDE_ALL_METADATA"
    # The proxy-only subnet of the Inference Gateway's regional load balancers (None: no gateway).
    proxy_only_cidr: str | None = None


class Network(pulumi.ComponentResource):
    network: pulumi.Output[str]
    # Egress for private nodes: images from outside Google and Hugging Face downloads need it.
    nat: gcp.compute.RouterNat | None
    # What a regional Gateway's load balancer runs its proxies in (None: none created here).
    proxy_only_subnet: gcp.compute.Subnetwork | None
    subnetwork: pulumi.Output[str]
    pods_range_name: str
    services_range_name: str

    def __init__(self, name: str, args: NetworkArgs, *, apis: ProjectApis, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-gpu-serving:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pods_range_name = args.pods_range_name
        self.services_range_name = args.services_range_name

        self.proxy_only_subnet = None
        if args.mode == "existing":
            self.nat = None
            self.network = pulumi.Output.from_input(args.existing_network)
            self.subnetwork = pulumi.Output.from_input(args.existing_subnetwork)
            self.register_outputs({"network": self.network, "subnetwork": self.subnetwork})
            return

        def cname(*parts: str) -> str:
            return naming.budget_name(args.prefix, *parts, max_len=naming.COMPUTE_NAME_MAX)

        vpc = gcp.compute.Network(
            f"{name}-vpc",
            name=cname("vpc"),
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=apis.opts(gcp.compute.Network, child),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            name=cname("nodes"),
            project=args.project,
            region=args.region,
            network=vpc.id,
            ip_cidr_range=args.nodes_cidr,
            # Nodes without external IPs still reach Google APIs (GCS, Artifact Registry).
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=args.pods_range_name, ip_cidr_range=args.pods_cidr
                ),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(
                    range_name=args.services_range_name, ip_cidr_range=args.services_cidr
                ),
            ],
            # Flow logs: the provider sends enable: true exactly when this block is present
            # (terraform-provider-google resource_compute_subnetwork.go, expandComputeSubnetworkLogConfig).
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval=args.flow_logs_interval,
                flow_sampling=args.flow_logs_sampling,
                metadata=args.flow_logs_metadata,
            )
            if args.flow_logs_sampling is not None
            else None,
            opts=apis.opts(gcp.compute.Subnetwork, child),
        )
        if args.proxy_only_cidr is not None:
            # No logConfig: the provider sends none for a proxy-only subnet, which accepts none
            # (resource_compute_subnetwork.go expandComputeSubnetworkLogConfig); the gateway's requests
            # are logged by its load balancer (GCPBackendPolicy logging, workloads/gateway.py).
            self.proxy_only_subnet = gcp.compute.Subnetwork(
                f"{name}-proxy-only",
                name=cname("proxy-only"),
                project=args.project,
                region=args.region,
                network=vpc.id,
                ip_cidr_range=args.proxy_only_cidr,
                purpose=PROXY_ONLY_PURPOSE,
                role=PROXY_ONLY_ROLE,
                opts=apis.opts(gcp.compute.Subnetwork, child),
            )
        nat = None
        if args.nat:
            router = gcp.compute.Router(
                f"{name}-router",
                name=cname("router"),
                project=args.project,
                region=args.region,
                network=vpc.id,
                opts=apis.opts(gcp.compute.Router, child),
            )
            nat = gcp.compute.RouterNat(
                f"{name}-nat",
                name=cname("nat"),
                project=args.project,
                region=args.region,
                router=router.name,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[
                    gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
                ],
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
                opts=apis.opts(gcp.compute.RouterNat, child),
            )
        self.nat = nat
        self.network = vpc.id
        self.subnetwork = subnet.id
        self.register_outputs({"network": self.network, "subnetwork": self.subnetwork})
