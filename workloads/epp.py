"""The endpoint picker (EPP) of one InferencePool, as the pinned release's Helm chart renders it
for GKE: kubernetes-sigs/gateway-api-inference-extension v1.5.0 (df9f8909), ``config/charts/
inferencepool`` with its ``epplib`` templates, ``provider.name: gke`` and Prometheus monitoring on
with authentication (as GoogleCloudPlatform/accelerated-platforms' gaie_values.yaml sets it).

- ``_deployment.yaml``: one replica (the chart's recommended single active replica, ``Recreate``),
  image ``registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0``, ports 9002 (gRPC ext-proc),
  9003 (gRPC health) and 9090 (metrics), gRPC probes on 9003 service ``inference-extension``,
  ``--pool-name``/``--pool-namespace``/``--pool-group``, the plugins file from a ConfigMap;
- ``_rbac.yaml`` and ``inferencepool/templates/rbac.yaml``: pods, inferencepools (and the alpha
  inferenceobjectives / inferencemodelrewrites, which v1.5.0 watches only when their CRDs exist:
  pkg/epp/server/controller_config.go) read in the namespace; tokenreviews and subjectaccessreviews
  for the authenticated metrics endpoint (``MetricsEndpointAuth`` defaults to true,
  pkg/epp/server/options.go);
- ``_gke.yaml``: a metrics-reader service account and its token Secret, a PodMonitoring that sends
  the token as a Bearer credential, and a Role letting Managed Prometheus' collector
  (``gmp-system``, ``gke-gmp-system`` on Autopilot) read that Secret. GKE's own sample grants the
  same (GoogleCloudPlatform/kubernetes-engine-samples ai-ml/infw-gw/examples/getting-started/
  metrics-auth.yaml, 9db84cd7).

The EPP talks to the Kubernetes API (it watches the pool and its pods), so its pod mounts a
service-account token; every other hardening setting of workloads/pod.py applies. The image is
``gcr.io/distroless/static:nonroot`` (the release's Dockerfile BASE_IMAGE), whose user is 65532,
and the binary writes no file (no os.WriteFile/os.Create in cmd/epp, pkg/epp or pkg/common at
v1.5.0), so the root filesystem is read-only. What the EPP does with its arguments and its plugins
file is Go code: it cannot be run offline, so only the chart is the source here.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import yaml

from infra import naming
from infra.config import ComponentArgs
from workloads import pod
from workloads.autoscaling import PODMONITORING_API, SCRAPE_INTERVAL

RELEASE = "v1.5.0"
IMAGE = f"registry.k8s.io/gateway-api-inference-extension/epp:{RELEASE}"
COMPONENT = "epp"
EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
PORT_NAMES = {"grpc": EXT_PROC_PORT, "grpc-health": HEALTH_PORT, "metrics": METRICS_PORT}
HEALTH_SERVICE = "inference-extension"  # the gRPC health service of a single-replica EPP
POOL_GROUP = "inference.networking.k8s.io"
UID = 65532  # distroless nonroot
TERMINATION_GRACE_SECONDS = 130  # the chart's: "mirror the longest grace period of the pods within the pool"
PLUGINS_FILE = "default-plugins.yaml"
CONFIG_DIR = "/config"
TOKEN_KEY = "token"
GMP_COLLECTOR = "collector"


def epp_name(pool: str) -> str:
    return f"{pool}-epp"


def plugins_config() -> str:
    """``default-plugins.yaml`` as the chart's ``_config.yaml`` renders it for vLLM over HTTP without
    the latency predictor: queue, KV-cache and prefix-cache scorers (weights 2, 2, 3) on the metrics
    vLLM serves at /metrics."""
    doc = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            {"type": "queue-scorer"},
            {"type": "kv-cache-utilization-scorer"},
            {"type": "prefix-cache-scorer"},
            {
                "type": "metrics-data-source",
                "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True},
            },
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [
            {
                "name": "default",
                "plugins": [
                    {"pluginRef": "queue-scorer", "weight": 2},
                    {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
                    {"pluginRef": "prefix-cache-scorer", "weight": 3},
                ],
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def args(pool: str, namespace: str) -> list[str]:
    """The chart's arguments for a pool-mode EPP (``flags: {v: 1}``, tracing off, metrics auth on)."""
    return [
        "--pool-name",
        pool,
        "--pool-namespace",
        namespace,
        "--pool-group",
        POOL_GROUP,
        "--zap-encoder",
        "json",
        "--config-file",
        f"{CONFIG_DIR}/{PLUGINS_FILE}",
        "--v",
        "1",
        "--tracing=false",
    ]


def _grpc_probe(**kw) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        grpc=k8s.core.v1.GRPCActionArgs(port=HEALTH_PORT, service=HEALTH_SERVICE), timeout_seconds=5, **kw
    )


class EppArgs(ComponentArgs):
    pool: str
    namespace: str
    environment: str
    autopilot: bool
    cpu: str = "2"
    memory: str = "4Gi"
    ephemeral_storage: str = "1Gi"


TMP_SIZE = "64Mi"


def selector(pool: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": pool, "app.kubernetes.io/component": COMPONENT}


def pod_spec(a: EppArgs, config_map: pulumi.Input[str]) -> k8s.core.v1.PodSpecArgs:
    field = k8s.core.v1.EnvVarSourceArgs
    container = k8s.core.v1.ContainerArgs(
        name="epp",
        image=IMAGE,
        image_pull_policy="IfNotPresent",
        args=args(a.pool, a.namespace),
        ports=[
            k8s.core.v1.ContainerPortArgs(name=name, container_port=port, protocol="TCP")
            for name, port in PORT_NAMES.items()
        ],
        env=[
            k8s.core.v1.EnvVarArgs(
                name="NAMESPACE",
                value_from=field(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.namespace")),
            ),
            k8s.core.v1.EnvVarArgs(
                name="POD_NAME",
                value_from=field(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.name")),
            ),
        ],
        resources=pod.resources(a.cpu, a.memory, a.ephemeral_storage),
        readiness_probe=_grpc_probe(period_seconds=2),
        liveness_probe=_grpc_probe(initial_delay_seconds=5, period_seconds=10),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="plugins-config-volume", mount_path=CONFIG_DIR),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ],
        security_context=pod.container_security(UID),
    )
    return k8s.core.v1.PodSpecArgs(
        service_account_name=epp_name(a.pool),
        # The EPP is a Kubernetes API client: it watches its InferencePool and the pool's pods.
        automount_service_account_token=True,
        node_selector=pod.cpu_placement().node_selector,
        security_context=pod.pod_security(UID),
        termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
        volumes=[
            k8s.core.v1.VolumeArgs(
                name="plugins-config-volume", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map)
            ),
            # The picker's code writes no file (its source, v1.5.0); a small /tmp on the read-only
            # root is there for any library that reaches for os.TempDir, as on every pod here.
            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=TMP_SIZE)),
        ],
        containers=[container],
    )


def _rule(groups: list[str], resources: list[str], verbs: list[str], names=None) -> k8s.rbac.v1.PolicyRuleArgs:
    return k8s.rbac.v1.PolicyRuleArgs(api_groups=groups, resources=resources, verbs=verbs, resource_names=names)


READ = ["get", "watch", "list"]


def namespace_rules() -> dict[str, list[k8s.rbac.v1.PolicyRuleArgs]]:
    """The EPP's Roles in its namespace, by name suffix (``_rbac.yaml`` ``-sa``, rbac.yaml ``-non-sa``)."""
    return {
        "sa": [_rule([""], ["pods"], READ)],
        "non-sa": [
            _rule(["inference.networking.x-k8s.io"], ["inferenceobjectives", "inferencemodelrewrites"], READ),
            _rule([POOL_GROUP], ["inferencepools"], READ),
        ],
    }


def metrics_auth_rules() -> list[k8s.rbac.v1.PolicyRuleArgs]:
    """What the EPP needs to authenticate and authorize scrapes of its /metrics (``_rbac.yaml``)."""
    return [
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
        k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"]),
    ]


def metrics_reader(pool: str) -> str:
    return f"{pool}-metrics-reader-sa"


def metrics_secret(pool: str) -> str:
    return f"{pool}-metrics-reader-secret"


def gmp_namespace(autopilot: bool) -> str:
    """Where Managed Prometheus' collector runs (``_gke.yaml``: gke-gmp-system on Autopilot)."""
    return "gke-gmp-system" if autopilot else "gmp-system"


def pod_monitoring_spec(pool: str) -> dict:
    """Scrape the EPP's metrics port with the metrics reader's token (``_gke.yaml`` PodMonitoring)."""
    return {
        "selector": {"matchLabels": selector(pool)},
        "endpoints": [
            {
                "port": "metrics",
                "scheme": "http",
                "path": "/metrics",
                "interval": SCRAPE_INTERVAL,
                "authorization": {
                    "type": "Bearer",
                    "credentials": {"secret": {"name": metrics_secret(pool), "key": TOKEN_KEY}},
                },
            }
        ],
    }


class EndpointPicker:
    """The EPP objects of one pool, children of ``parent``; all ``deleted_with`` the cluster (none
    of them creates anything outside it)."""

    def __init__(self, a: EppArgs, *, parent: pulumi.Resource, opts: pulumi.ResourceOptions):
        name, ns = epp_name(a.pool), a.namespace
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=parent))
        labels = naming.k8s_labels(a.environment, COMPONENT, a.pool)

        def meta(obj: str, namespaced: bool = True, annotations=None) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=obj, namespace=ns if namespaced else None, labels=labels, annotations=annotations
            )

        def after(*deps: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(deps)))

        sa = k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(name), opts=opts)
        subject = [k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=name, namespace=ns)]
        for suffix, rules in namespace_rules().items():
            role = k8s.rbac.v1.Role(f"{name}-{suffix}", metadata=meta(f"{name}-{suffix}"), rules=rules, opts=opts)
            k8s.rbac.v1.RoleBinding(
                f"{name}-{suffix}-binding",
                metadata=meta(f"{name}-{suffix}"),
                subjects=subject,
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=f"{name}-{suffix}"
                ),
                opts=after(role, sa),
            )
        cluster_role = f"{a.pool}-{ns}-epp"
        auth = k8s.rbac.v1.ClusterRole(
            f"{name}-auth", metadata=meta(cluster_role, namespaced=False), rules=metrics_auth_rules(), opts=opts
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-auth-binding",
            metadata=meta(cluster_role, namespaced=False),
            subjects=subject,
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=cluster_role
            ),
            opts=after(auth, sa),
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(name), data={PLUGINS_FILE: plugins_config()}, opts=opts
        )
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(name),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                # The chart's: a single active replica is killed at once and replaced (prefix-cache state).
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector(a.pool)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=pod_spec(a, config.metadata.name),
                ),
            ),
            opts=after(sa),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector(a.pool),
                ports=[
                    k8s.core.v1.ServicePortArgs(name="grpc-ext-proc", port=EXT_PROC_PORT, protocol="TCP"),
                    k8s.core.v1.ServicePortArgs(name="http-metrics", port=METRICS_PORT, protocol="TCP"),
                ],
            ),
            opts=opts,
        )
        self._metrics_access(a, meta, after, opts)

    def _metrics_access(self, a: EppArgs, meta, after, opts: pulumi.ResourceOptions) -> None:
        """The token Managed Prometheus presents to the EPP's authenticated /metrics (``_gke.yaml``)."""
        pool, ns = a.pool, a.namespace
        reader = k8s.core.v1.ServiceAccount(f"{pool}-metrics-reader", metadata=meta(metrics_reader(pool)), opts=opts)
        secret = k8s.core.v1.Secret(
            f"{pool}-metrics-reader-secret",
            metadata=meta(
                metrics_secret(pool), annotations={"kubernetes.io/service-account.name": metrics_reader(pool)}
            ),
            type="kubernetes.io/service-account-token",
            opts=after(reader),
        )
        role_name = f"{ns}-{pool}-metrics-reader"
        role = k8s.rbac.v1.ClusterRole(
            f"{pool}-metrics-reader-role",
            metadata=meta(role_name, namespaced=False),
            rules=[k8s.rbac.v1.PolicyRuleArgs(non_resource_urls=["/metrics"], verbs=["get"])],
            opts=opts,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{pool}-metrics-reader-binding",
            metadata=meta(f"{role_name}-role-binding", namespaced=False),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=metrics_reader(pool), namespace=ns)],
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role_name),
            opts=after(role, reader),
        )
        read_name = f"{pool}-metrics-reader-secret-read"
        secret_read = k8s.rbac.v1.Role(
            f"{pool}-metrics-secret-read",
            metadata=meta(read_name),
            rules=[_rule([""], ["secrets"], ["get", "list", "watch"], names=[metrics_secret(pool)])],
            opts=opts,
        )
        gmp = gmp_namespace(a.autopilot)
        k8s.rbac.v1.RoleBinding(
            f"{pool}-metrics-secret-read-binding",
            metadata=meta(f"{gmp}:{GMP_COLLECTOR}:{ns}-{pool}-metrics-reader-secret-read"),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=GMP_COLLECTOR, namespace=gmp)],
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=read_name),
            opts=after(secret_read),
        )
        k8s.apiextensions.CustomResource(
            f"podmonitoring-{epp_name(pool)}",
            api_version=PODMONITORING_API,
            kind="PodMonitoring",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=epp_name(pool), namespace=ns, labels=naming.k8s_labels(a.environment, "pod-monitoring", pool)
            ),
            spec=pod_monitoring_spec(pool),
            opts=after(secret, self.deployment),
        )
