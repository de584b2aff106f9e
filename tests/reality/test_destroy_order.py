"""``pulumi destroy`` deletes in reverse dependency order and skips what is ``deleted_with`` a
resource it deletes. Nothing the destroy still needs may go before it is needed, and each
bucket's fate is the one its environment documents in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra import config
from tests.conftest import LOAD_BALANCER_KINDS, STACKS
from tests.reality.captures import CAPTURES
from tests.reality.graph import SERVICE, Graph, pulled_repositories
from tests.reality.preconditions import CLUSTER

README = Path(__file__).resolve().parents[2] / "README.md"
BUCKET = "gcp:storage/bucket:Bucket"


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_no_api_is_disabled_by_a_destroy(label, get):
    # Deleting any later resource calls its API: an API turned off mid-destroy fails every delete after it.
    services = get().of_type(SERVICE)
    assert services
    assert all(s.inputs["disableOnDestroy"] is False for s in services)


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_kubernetes_objects_deleted_on_their_own_go_before_the_cluster(label, get):
    # LoadBalancer Services are not deleted_with the cluster (GKE's load balancers go only with
    # them): they need the API server, so the cluster must be deleted after them.
    capture = get()
    clusters = capture.of_type(CLUSTER)
    if not clusters:
        pytest.skip("an existing cluster is never deleted")
    graph = Graph(capture)
    for obj in capture.kubernetes_objects():
        if obj.deleted_with != clusters[0].urn:
            assert clusters[0] in graph.ancestors(obj), obj.name


GATEWAY_CAPTURES = [c for c in CAPTURES if c[0] in ("staging", "prod", "external-gateway", "existing-gateway")]


@pytest.mark.parametrize(("label", "get"), GATEWAY_CAPTURES, ids=[c[0] for c in GATEWAY_CAPTURES])
def test_what_gke_builds_load_balancers_from_is_deleted_on_its_own(label, get):
    # A Gateway, its route and the pool behind it stand for a forwarding rule, proxies, URL maps,
    # backend services, NEGs and health checks GKE creates outside the state and deletes only with
    # them: skipped as deleted_with the cluster, they would outlive it (README "Destroy").
    objects = [o for o in get().kubernetes_objects() if o.inputs["kind"] in LOAD_BALANCER_KINDS]
    assert {o.inputs["kind"] for o in objects} == set(LOAD_BALANCER_KINDS)
    assert [o.name for o in objects if o.deleted_with] == []


@pytest.mark.parametrize(("label", "get"), GATEWAY_CAPTURES, ids=[c[0] for c in GATEWAY_CAPTURES])
def test_a_gateway_is_deleted_before_the_proxy_only_subnet_its_load_balancer_runs_in(label, get):
    capture = get()
    subnets = [s for s in capture.of_type("gcp:compute/subnetwork:Subnetwork") if s.inputs.get("purpose")]
    if not capture.of_type(CLUSTER):
        assert not subnets  # an existing cluster's proxy-only subnet is not the stack's
        pytest.skip("an existing cluster brings its own proxy-only subnet")
    graph = Graph(capture)
    (subnet,) = subnets
    for gateway in (o for o in capture.kubernetes_objects() if o.inputs["kind"] == "Gateway"):
        assert subnet in graph.ancestors(gateway), gateway.name


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_deleted_with_always_names_the_cluster(label, get):
    capture = get()
    clusters = {c.urn for c in capture.of_type(CLUSTER)}
    assert {r.deleted_with for r in capture.resources if r.deleted_with} <= clusters


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_a_service_account_outlives_everything_that_runs_as_it(label, get):
    capture = get()
    graph = Graph(capture)
    accounts = {
        f"{a.inputs['accountId']}@{a.inputs['project']}.iam.gserviceaccount.com": a
        for a in capture.of_type("gcp:serviceaccount/account:Account")
    }
    for res in capture.resources:
        email = (res.inputs.get("nodeConfig") or {}).get("serviceAccount")
        if email in accounts:
            assert accounts[email] in graph.ancestors(res), res.name


def _documented_fates() -> dict[str, str]:
    """The README's "Buckets on destroy" table: environment -> fate key (deleted, retained, protected)."""
    text = README.read_text()
    section = text[text.index("### Buckets on destroy") :]
    rows = re.findall(r"^\| `(dev|staging|prod)` \| `(deleted|retained|protected)` \|", section, re.M)
    return dict(rows)


def test_the_readme_documents_a_bucket_fate_per_environment():
    assert set(_documented_fates()) == {"dev", "staging", "prod"}


@pytest.mark.parametrize("label", ["dev", "staging", "prod"])
def test_every_example_bucket_meets_the_fate_its_environment_documents(label):
    get = dict(CAPTURES)[label]
    fates = _documented_fates()
    buckets = get().of_type(BUCKET)
    assert buckets
    for b in buckets:
        fate = config.bucket_fate(label, b.inputs["forceDestroy"], b.protect, b.retain_on_delete)
        assert fate == fates[label], b.name


@pytest.mark.parametrize(("label", "get"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_a_repository_outlives_every_pod_that_pulls_from_it(label, get):
    # Destroy runs the graph backwards: a repository a pod depends on is deleted after the pod,
    # so no pod restarted during the destroy loses its image source first.
    capture = get()
    graph = Graph(capture)
    pulls = [(obj, repo) for obj in capture.kubernetes_objects() for repo in pulled_repositories(capture, obj)]
    assert pulls or label not in STACKS  # every example stack pulls from its own repositories
    for obj, repo in pulls:
        assert repo in graph.ancestors(obj), f"{obj.name} -> {repo.name}"
