"""Google Cloud and GKE preconditions of a first ``pulumi up`` on a fresh project, checked against
the resource graph the engine records.

The engine creates a resource as soon as everything it depends on exists, and nothing else
orders creation: a resource with no edge to the API it calls races the API's enablement, and
wins. Each :class:`Precondition` names a fact, its source, and a check over a capture's graph
(explicit ``depends_on``, the dependencies implied by inputs, and the provider a resource uses);
the same edges order ``pulumi destroy`` the other way round. The graph, and the readers of
captured workloads the destroy-order tests share, are ``tests/reality/graph.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from infra import apis
from tests.reality.graph import Graph, _kind, _pod_spec, enabled_before, pulled_repositories
from tooling.offline import Capture

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
NAT = "gcp:compute/routerNat:RouterNat"
REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"


@dataclass(frozen=True)
class Precondition:
    name: str
    fact: str
    source: str
    check: Callable[[Capture, Graph], Iterator[str]]


def _apis_before_use(capture: Capture, graph: Graph) -> Iterator[str]:
    for res in capture.resources:
        if not res.custom:
            continue
        api = apis.api_for_type(res.type)
        if api and api not in enabled_before(graph, graph.ancestors(res)):
            yield f"{res.type} {res.name} calls {api} and does not wait for it to be enabled"
    for inv in capture.invokes:
        api = apis.API_BY_INVOKE.get(inv.token)
        if api and api not in enabled_before(graph, graph.urns_before(inv.depends_on)):
            yield f"data source {inv.token} reads {api} and does not wait for it to be enabled"


def _feature_apis(capture: Capture, graph: Graph) -> Iterator[str]:
    for res in capture.of_type(CLUSTER):
        missing = set(apis.CLUSTER_TELEMETRY_APIS) - enabled_before(graph, graph.ancestors(res))
        if missing:
            yield f"cluster {res.name} sends logs and metrics before {sorted(missing)} are enabled"
        enforced = (res.inputs.get("binaryAuthorization") or {}).get(
            "evaluationMode"
        ) == "PROJECT_SINGLETON_POLICY_ENFORCE"
        if enforced and apis.BINARY_AUTHORIZATION_API not in enabled_before(graph, graph.ancestors(res)):
            yield f"cluster {res.name} enforces Binary Authorization before {apis.BINARY_AUTHORIZATION_API} is enabled"
    streaming = [
        p for p in capture.of_type(NODE_POOL) if (p.inputs["nodeConfig"].get("gcfsConfig") or {}).get("enabled")
    ]
    streaming += [
        c
        for c in capture.of_type(CLUSTER)
        if ((c.inputs.get("nodePoolDefaults") or {}).get("nodeConfigDefaults") or {})
        .get("gcfsConfig", {})
        .get("enabled")
    ]
    for res in streaming:
        if apis.IMAGE_STREAMING_API not in enabled_before(graph, graph.ancestors(res)):
            yield f"{res.name} streams images before {apis.IMAGE_STREAMING_API} is enabled"
    for res in capture.of_type("gcp:serviceaccount/iAMMember:IAMMember"):
        if res.inputs["role"] == "roles/iam.workloadIdentityUser" and apis.WORKLOAD_IDENTITY_API not in enabled_before(
            graph, graph.ancestors(res)
        ):
            yield f"{res.name} lets a KSA impersonate a GSA before {apis.WORKLOAD_IDENTITY_API} is enabled"


def _identity_pool_first(capture: Capture, graph: Graph) -> Iterator[str]:
    clusters = capture.of_type(CLUSTER)
    if not clusters:
        return  # an existing cluster: its pool exists already
    for res in capture.resources:
        member = res.inputs.get("member") if res.type.lower().endswith("iammember") else None
        if isinstance(member, str) and ".svc.id.goog" in member and clusters[0] not in graph.ancestors(res):
            yield f"{res.name} grants to the Workload Identity pool before the cluster that creates it exists"


def _node_roles_first(capture: Capture, graph: Graph) -> Iterator[str]:
    for node_user in (*capture.of_type(NODE_POOL), *capture.of_type(CLUSTER)):
        nc = node_user.inputs.get("nodeConfig") or (
            (node_user.inputs.get("clusterAutoscaling") or {}).get("autoProvisioningDefaults") or {}
        )
        email = nc.get("serviceAccount")
        if not email:
            continue
        grants = [g for g in capture.of_type(PROJECT_MEMBER) if g.inputs["member"] == f"serviceAccount:{email}"]
        if not grants:
            yield f"{node_user.name}: its node service account {email} holds no project role"
        ancestors = graph.ancestors(node_user)
        for grant in grants:
            if grant not in ancestors:
                yield f"{node_user.name} boots nodes before {grant.inputs['role']} is granted to them"


def _namespace_first(capture: Capture, graph: Graph) -> Iterator[str]:
    namespaces = {r.inputs["metadata"]["name"]: r for r in capture.kubernetes_objects() if _kind(r) == "Namespace"}
    for res in capture.kubernetes_objects():
        ns = (res.inputs.get("metadata") or {}).get("namespace")
        if ns in namespaces and namespaces[ns] not in graph.ancestors(res):
            yield f"{_kind(res)} {ns}/{res.inputs['metadata'].get('name')} before its namespace"


def _identity_before_pods(capture: Capture, graph: Graph) -> Iterator[str]:
    ksas = {
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r
        for r in capture.kubernetes_objects()
        if _kind(r) == "ServiceAccount"
    }
    members = [r for r in capture.resources if r.type.lower().endswith("iammember")]
    for res in capture.kubernetes_objects():
        spec = _pod_spec(res)
        if spec is None or not spec.get("serviceAccountName"):
            continue
        ns, name = res.inputs["metadata"].get("namespace"), spec["serviceAccountName"]
        ancestors = graph.ancestors(res)
        ksa = ksas.get((ns, name))
        if ksa is not None and ksa not in ancestors:
            yield f"{_kind(res)} {res.name} starts pods before their service account {ns}/{name}"
        gsa = ((ksa.inputs["metadata"].get("annotations") or {}) if ksa else {}).get("iam.gke.io/gcp-service-account")
        mine = [
            m
            for m in members
            if m.inputs["member"].endswith(f"[{ns}/{name}]")
            or m.inputs["member"].endswith(f"/subject/ns/{ns}/sa/{name}")
            or (gsa and m.inputs["member"] == f"serviceAccount:{gsa}")
        ]
        for grant in mine:
            if grant not in ancestors:
                yield f"{_kind(res)} {res.name} starts pods before {grant.name} ({grant.inputs['role']})"


def _capacity_before_gpu_pods(capture: Capture, graph: Graph) -> Iterator[str]:
    pools = [p for p in capture.of_type(NODE_POOL) if p.inputs["nodeConfig"].get("guestAccelerators")]
    installers = [r for r in capture.kubernetes_objects() if _kind(r) == "DaemonSet"]
    for res in capture.kubernetes_objects():
        spec = _pod_spec(res)
        if spec is None or _kind(res) == "DaemonSet":
            continue
        gpus = sum(
            int((c.get("resources") or {}).get("limits", {}).get("nvidia.com/gpu", 0)) for c in spec["containers"]
        )
        if not gpus:
            continue
        ancestors = graph.ancestors(res)
        compute_class = (spec.get("nodeSelector") or {}).get("cloud.google.com/compute-class")
        if compute_class is not None:
            yield from _class_capacity(capture, res, compute_class, ancestors)
            continue
        if not pools:
            continue
        accelerator = (spec.get("nodeSelector") or {}).get("cloud.google.com/gke-accelerator")
        fitting = [p for p in pools if p.inputs["nodeConfig"]["guestAccelerators"][0]["type"] == accelerator]
        if not any(p in ancestors for p in fitting):
            yield f"{_kind(res)} {res.name} waits for {accelerator} pods before any pool that can hold them exists"
        for installer in installers:
            if installer not in ancestors:
                yield f"{_kind(res)} {res.name} waits for GPU pods before the driver installer {installer.name}"


def _class_capacity(capture: Capture, res, compute_class: str, ancestors) -> Iterator[str]:
    """A Pod on a compute class needs the ComputeClass object first (GKE leaves a Pod that names a
    missing class Pending), and on Standard a cluster that may create the class's node pools (node
    auto-provisioning before 1.33.3-gke.1136000: GKE, About custom ComputeClasses)."""
    objects = [
        r
        for r in capture.kubernetes_objects()
        if _kind(r) == "ComputeClass" and (r.inputs.get("metadata") or {}).get("name") == compute_class
    ]
    if not any(o in ancestors for o in objects):
        yield f"{_kind(res)} {res.name} waits for GPU pods before their ComputeClass {compute_class} exists"
    for cluster in capture.of_type(CLUSTER):
        autopilot = cluster.inputs.get("enableAutopilot")
        nap = (cluster.inputs.get("clusterAutoscaling") or {}).get("enabled")
        if not autopilot and not nap:
            yield f"{_kind(res)} {res.name} selects ComputeClass {compute_class} on a Standard cluster without node auto-provisioning"


# Registries private nodes reach through Private Google Access, without NAT (Container Registry
# and Artifact Registry hosts).
GOOGLE_REGISTRIES = ("gcr.io", ".gcr.io", ".pkg.dev")


def _registry(image: str) -> str:
    head = image.split("/", 1)[0]
    return head if "/" in image and ("." in head or ":" in head) else "docker.io"


def _needs_internet(spec: dict) -> bool:
    images = [c.get("image", "") for c in (*spec.get("initContainers", []), *spec["containers"])]
    outside = any(not _registry(i).endswith(GOOGLE_REGISTRIES) for i in images)
    hugging_face = any(e.get("name") == "HF_TOKEN" for c in spec["containers"] for e in c.get("env") or [])
    return outside or hugging_face


def _egress_before_pods(capture: Capture, graph: Graph) -> Iterator[str]:
    nats = capture.of_type(NAT)
    if not nats:
        return
    for res in capture.kubernetes_objects():
        spec = _pod_spec(res)
        if (
            spec is not None
            and _kind(res) != "DaemonSet"
            and _needs_internet(spec)
            and nats[0] not in graph.ancestors(res)
        ):
            yield f"{_kind(res)} {res.name} pulls or downloads from outside Google on private nodes before Cloud NAT exists"


def _repositories_before_pulls(capture: Capture, graph: Graph) -> Iterator[str]:
    grants = capture.of_type(REPOSITORY_MEMBER)
    for res in capture.kubernetes_objects():
        ancestors = graph.ancestors(res)
        for repo in pulled_repositories(capture, res):
            if repo not in ancestors:
                yield f"{_kind(res)} {res.name} pulls from {repo.inputs['repositoryId']} before it exists"
            readers = [
                g for g in grants if repo in graph.ancestors(g) and g.inputs["role"] == "roles/artifactregistry.reader"
            ]
            if not readers:
                yield f"{_kind(res)} {res.name} pulls from {repo.inputs['repositoryId']}, which grants no node read access"
            for grant in readers:
                if grant not in ancestors:
                    yield f"{_kind(res)} {res.name} pulls from {repo.inputs['repositoryId']} before {grant.name}"


def _aggregated_api_backend_first(capture: Capture, graph: Graph) -> Iterator[str]:
    objects = {
        (_kind(r), (r.inputs.get("metadata") or {}).get("namespace"), r.inputs["metadata"]["name"]): r
        for r in capture.kubernetes_objects()
    }
    for res in capture.kubernetes_objects():
        if _kind(res) != "APIService":
            continue
        svc = res.inputs["spec"]["service"]
        backend = [
            objects.get(("Service", svc["namespace"], svc["name"])),
            objects.get(("Deployment", svc["namespace"], svc["name"])),
        ]
        ancestors = graph.ancestors(res)
        for obj in backend:
            if obj is None or obj not in ancestors:
                yield f"APIService {res.inputs['metadata']['name']} is registered before its backend {svc['namespace']}/{svc['name']}"


# GKE's regional gateway classes: Envoy-based load balancers whose proxies run in the region's
# proxy-only subnet.
REGIONAL_GATEWAY_CLASSES = ("gke-l7-rilb", "gke-l7-regional-external-managed")
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"


def _gateway_prerequisites(capture: Capture, graph: Graph) -> Iterator[str]:
    gateways = [
        r for r in capture.kubernetes_objects() if _kind(r) == "Gateway" and r.inputs["spec"]["gatewayClassName"]
    ]
    clusters = capture.of_type(CLUSTER)
    if not gateways or not clusters:
        return  # an existing cluster: the operator confirms these (cluster.existingGatewayApi)
    cluster = clusters[0].inputs
    if (cluster.get("gatewayApiConfig") or {}).get("channel") != "CHANNEL_STANDARD":
        yield "a Gateway on a cluster without the Gateway API (gatewayApiConfig CHANNEL_STANDARD)"
    if ((cluster.get("addonsConfig") or {}).get("httpLoadBalancing") or {}).get("disabled", False):
        yield "a Gateway on a cluster without the HttpLoadBalancing add-on"
    if cluster.get("networkingMode") != "VPC_NATIVE":
        yield "a Gateway on a cluster that is not VPC-native"
    region = cluster["location"].rsplit("-", 1)[0] if cluster["location"].count("-") == 2 else cluster["location"]
    proxies = [
        s
        for s in capture.of_type(SUBNETWORK)
        if s.inputs.get("purpose") == "REGIONAL_MANAGED_PROXY"
        and s.inputs.get("role") == "ACTIVE"
        and s.inputs.get("region") == region
    ]
    for gw in gateways:
        if gw.inputs["spec"]["gatewayClassName"] not in REGIONAL_GATEWAY_CLASSES:
            continue
        if not any(p in graph.ancestors(gw) for p in proxies):
            yield f"Gateway {gw.name} is created before an ACTIVE proxy-only subnet in {region} exists"


PRECONDITIONS = (
    Precondition(
        "api-enabled-before-use",
        "A request to a disabled API fails: 'API has not been used in project ... before or it is disabled'.",
        "Service Usage, enabling services; the API of each resource: infra/apis.py",
        _apis_before_use,
    ),
    Precondition(
        "feature-apis-before-features",
        "Image streaming needs the Container File System API; KSA->GSA token exchange the IAM Service "
        "Account Credentials API; a cluster writes to Cloud Logging and Cloud Monitoring; Binary "
        "Authorization evaluates the project's policy through its API.",
        "GKE 'Use Image streaming' (Requirements); google/kctf#194; GKE observability",
        _feature_apis,
    ),
    Precondition(
        "identity-pool-before-grants",
        "<project>.svc.id.goog exists only once a Workload Identity cluster exists: 'Identity Pool does not exist'.",
        "terraform-google-kubernetes-engine#916; googleforgames/global-multiplayer-demo#39",
        _identity_pool_first,
    ),
    Precondition(
        "node-roles-before-nodes",
        "Nodes boot as the node service account: without roles/container.defaultNodeServiceAccount they "
        "cannot write logs or metrics, and without serviceUsageConsumer they cannot stream images.",
        "GKE hardening guide (least-privilege node SA); GKE 'Use Image streaming' (Requirements)",
        _node_roles_first,
    ),
    Precondition(
        "namespace-before-objects",
        "A namespaced object cannot be created in a namespace that does not exist.",
        "Kubernetes API: namespaces",
        _namespace_first,
    ),
    Precondition(
        "identity-before-pods",
        "A pod's KSA, its Workload Identity binding and its bucket grants must exist when the pod starts, or "
        "GCS FUSE mounts fail with 403 getAccessToken.",
        "GKE Cloud Storage FUSE CSI driver troubleshooting; DESIGN.md section 5",
        _identity_before_pods,
    ),
    Precondition(
        "capacity-before-gpu-pods",
        "Pulumi waits for a Deployment to become ready (10 minutes by default); a GPU pod is Pending until a "
        "pool that can hold it has a node with drivers.",
        "pulumi-kubernetes await logic for apps/v1 Deployment; GKE 'Run GPUs in Standard node pools'",
        _capacity_before_gpu_pods,
    ),
    Precondition(
        "egress-before-pods",
        "Private nodes have no external IP: images outside Google and Hugging Face downloads need Cloud NAT.",
        "GKE private clusters; Cloud NAT overview",
        _egress_before_pods,
    ),
    Precondition(
        "repository-before-pulls",
        "Nodes pull Artifact Registry images as their service account, which needs roles/artifactregistry.reader "
        "on the repository; a pod whose repository or grant does not exist yet fails to pull, and Pulumi waits out "
        "the Deployment's timeout.",
        "Artifact Registry, Deploying to Google Kubernetes Engine (Requirements: permissions); "
        "artifactregistry v1 Repository.registryUri",
        _repositories_before_pulls,
    ),
    Precondition(
        "gateway-prerequisites-first",
        "GKE Gateway controller requirements: VPC-native clusters only, the HttpLoadBalancing add-on, "
        "'You must enable a proxy-only subnet' for the regional classes, and the Gateway API enabled on the cluster.",
        "GKE, Deploy GKE Inference Gateway (GKE Gateway controller requirements); compute.v1 Subnetwork.purpose",
        _gateway_prerequisites,
    ),
    Precondition(
        "aggregated-api-backend-first",
        "An APIService whose backend does not answer marks its API unavailable, and namespace deletion stalls on it.",
        "Kubernetes API aggregation layer",
        _aggregated_api_backend_first,
    ),
)
