"""The custom-metrics Stackdriver adapter (the dashboard and alerts are :mod:`infra.monitoring`).

The adapter is the 13 objects of ``../shared/reference/custom-metrics-stackdriver-adapter.yaml``
(new resource model) as typed resources: the namespace and KSA come from the identity component
(Workload Identity to a Google identity holding ``roles/monitoring.viewer`` through a
non-authoritative IAM member: without it every HPA shows ``<unknown>``), the other eleven are
here. Its tolerations use ``operator: Equal, value: present`` (Autopilot rejects ``Exists``). The
``external-metrics-reader`` ClusterRole *and* its binding to ``kube-system/horizontal-pod-autoscaler``
are both created: without the binding the HPA controller cannot read External metrics.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.apis import ProjectApis
from infra.config import ComponentArgs
from infra.identity import IdentityArgs, WorkloadIdentity

ADAPTER_IMAGE = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0"
NAMESPACE = "custom-metrics"
KSA = "custom-metrics-stackdriver-adapter"
MONITORING_VIEWER = "roles/monitoring.viewer"
APP_LABELS = {"run": KSA, "k8s-app": KSA}
# (version, group, versionPriority): the three APIServices the adapter serves.
API_SERVICES = (
    ("v1beta1", "custom.metrics.k8s.io", 100),
    ("v1beta2", "custom.metrics.k8s.io", 200),
    ("v1beta1", "external.metrics.k8s.io", 100),
)


# The adapter serves the aggregated metrics APIs on 443, as the reference does. The API server
# calls the pod IP on the Service's targetPort, and on a private cluster GKE's firewall lets the
# control plane reach nodes on TCP 443 and 10250 only ("Adding firewall rules for specific use
# cases", GKE private clusters): any other port leaves every HPA on custom or external metrics
# without a value. Binding 443 takes NET_BIND_SERVICE, and Kubernetes gives an added capability to
# a non-root process only through file capabilities, which this distroless image has none of (no
# ambient capabilities: kubernetes/kubernetes#56374). So the container runs as UID 0 like the
# reference, with every capability dropped except NET_BIND_SERVICE, no privilege escalation and
# the RuntimeDefault seccomp profile; this is the stack's one root workload, waived by name in the
# policy pack (policies/rules/pod_security.py ROOT_WAIVERS) and listed in README's exceptions.
ADAPTER_UID = 0
SECURE_PORT = 443
CERT_DIR = "/tmp/certs"


class AdapterArgs(ComponentArgs):
    project: str
    prefix: str
    environment: str
    identity_mode: str = "service-account"


def adapter_tolerations() -> list[dict[str, str]]:
    """GPU and TPU taints, tolerated with Equal/present (the reference manifest; Autopilot-safe)."""
    return [
        {"key": key, "operator": "Equal", "value": "present", "effect": "NoSchedule"}
        for key in ("nvidia.com/gpu", "cloud.google.com/gke-tpu")
    ]


def _ref(kind: str, name: str) -> k8s.rbac.v1.RoleRefArgs:
    return k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind=kind, name=name)


def _subject(name: str = KSA, namespace: str = NAMESPACE) -> list[k8s.rbac.v1.SubjectArgs]:
    return [k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=name, namespace=namespace)]


class CustomMetricsAdapter(pulumi.ComponentResource):
    identity: WorkloadIdentity
    api_services: list[k8s.apiregistration.v1.APIService]

    def __init__(
        self,
        name: str,
        args: AdapterArgs,
        *,
        apis: ProjectApis,
        workload_pool: pulumi.Input[str],
        provider: pulumi.ProviderResource,
        project_number: pulumi.Input[str] | None = None,
        deleted_with: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:metrics:CustomMetricsAdapter", name, None, opts)
        labels = naming.k8s_labels(args.environment, "custom-metrics-adapter", KSA)
        self.identity = WorkloadIdentity(
            f"{name}-id",
            IdentityArgs(
                workload="metrics-adapter",
                namespace=NAMESPACE,
                ksa_name=KSA,
                project=args.project,
                prefix=args.prefix,
                environment=args.environment,
                mode=args.identity_mode,
                create_namespace=True,
                project_roles=(MONITORING_VIEWER,),
            ),
            apis=apis,
            workload_pool=workload_pool,
            buckets={},
            provider=provider,
            project_number=project_number,
            deleted_with=deleted_with,
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s_opts = pulumi.ResourceOptions(
            parent=self, provider=provider, deleted_with=deleted_with, depends_on=[self.identity]
        )

        def meta(obj_name: str, namespace: str | None = None, extra: dict | None = None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=obj_name, namespace=namespace, labels={**labels, **(extra or {})})

        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-auth-delegator",
            metadata=meta("custom-metrics:system:auth-delegator"),
            role_ref=_ref("ClusterRole", "system:auth-delegator"),
            subjects=_subject(),
            opts=k8s_opts,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-auth-reader",
            metadata=meta("custom-metrics-auth-reader", "kube-system"),
            role_ref=_ref("Role", "extension-apiserver-authentication-reader"),
            subjects=_subject(),
            opts=k8s_opts,
        )
        k8s.rbac.v1.ClusterRole(
            f"{name}-resource-reader-role",
            metadata=meta("custom-metrics-resource-reader"),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods", "nodes", "nodes/stats"], verbs=["get", "list", "watch"]
                )
            ],
            opts=k8s_opts,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-resource-reader",
            metadata=meta("custom-metrics-resource-reader"),
            role_ref=_ref("ClusterRole", "custom-metrics-resource-reader"),
            subjects=_subject(),
            opts=k8s_opts,
        )
        amounts = {"cpu": "250m", "memory": "200Mi", "ephemeral-storage": "100Mi"}
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(KSA, NAMESPACE, APP_LABELS),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(APP_LABELS)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, **APP_LABELS, "kubernetes.io/cluster-service": "true"}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=KSA,
                        tolerations=[k8s.core.v1.TolerationArgs(**t) for t in adapter_tolerations()],
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_user=ADAPTER_UID,
                            run_as_group=ADAPTER_UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="certs", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
                        ],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="pod-custom-metrics-stackdriver-adapter",
                                image=ADAPTER_IMAGE,
                                image_pull_policy="IfNotPresent",
                                command=[
                                    "/adapter",
                                    "--use-new-resource-model=true",
                                    "--fallback-for-container-metrics=true",
                                    f"--cert-dir={CERT_DIR}",
                                ],
                                ports=[k8s.core.v1.ContainerPortArgs(name="https", container_port=SECURE_PORT)],
                                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="certs", mount_path=CERT_DIR)],
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests=dict(amounts), limits=dict(amounts)
                                ),
                                security_context=k8s.core.v1.SecurityContextArgs(
                                    # Its one write is its serving certificate, in --cert-dir (an
                                    # emptyDir); it logs to stderr (upstream adapter.go registers
                                    # klog's flags, logtostderr defaulting to true). Not run here.
                                    read_only_root_filesystem=True,
                                    allow_privilege_escalation=False,
                                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=["NET_BIND_SERVICE"]),
                                ),
                                readiness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=k8s.core.v1.HTTPGetActionArgs(
                                        path="/healthz", port="https", scheme="HTTPS"
                                    ),
                                    initial_delay_seconds=40,
                                    period_seconds=10,
                                    timeout_seconds=5,
                                ),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=k8s.core.v1.HTTPGetActionArgs(
                                        path="/healthz", port="https", scheme="HTTPS"
                                    ),
                                    initial_delay_seconds=60,
                                    period_seconds=20,
                                    timeout_seconds=5,
                                    failure_threshold=3,
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=k8s_opts,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(KSA, NAMESPACE, {**APP_LABELS, "kubernetes.io/cluster-service": "true"}),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=dict(APP_LABELS),
                ports=[k8s.core.v1.ServicePortArgs(port=443, protocol="TCP", target_port="https")],
            ),
            opts=k8s_opts,
        )
        after_backend = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[self.identity, deployment, service])
        )
        self.api_services = [
            k8s.apiregistration.v1.APIService(
                f"{name}-{version}-{group.split('.')[0]}",
                metadata=meta(f"{version}.{group}"),
                spec=k8s.apiregistration.v1.APIServiceSpecArgs(
                    insecure_skip_tls_verify=True,
                    group=group,
                    group_priority_minimum=100,
                    version_priority=priority,
                    service=k8s.apiregistration.v1.ServiceReferenceArgs(name=KSA, namespace=NAMESPACE),
                    version=version,
                ),
                opts=after_backend,
            )
            for version, group, priority in API_SERVICES
        ]
        k8s.rbac.v1.ClusterRole(
            f"{name}-external-metrics-reader-role",
            metadata=meta("external-metrics-reader"),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["external.metrics.k8s.io"], resources=["*"], verbs=["list", "get", "watch"]
                )
            ],
            opts=k8s_opts,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-external-metrics-reader",
            metadata=meta("external-metrics-reader"),
            role_ref=_ref("ClusterRole", "external-metrics-reader"),
            subjects=_subject("horizontal-pod-autoscaler", "kube-system"),
            opts=k8s_opts,
        )
        self.register_outputs({"namespace": NAMESPACE, "identity": self.identity.member})
