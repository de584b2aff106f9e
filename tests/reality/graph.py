"""The resource graph a capture records, and the workload readers the apply-order preconditions
(``tests/reality/preconditions.py``) and the destroy-order tests share.

An edge is what orders the engine: an explicit ``depends_on``, a dependency implied by an input,
the provider a resource uses, or a custom resource parent. ``pulumi up`` creates a resource after
everything it (transitively) depends on; ``pulumi destroy`` deletes in the reverse order.
"""

from __future__ import annotations

from functools import cached_property

from tooling.offline import Capture, Captured

SERVICE = "gcp:projects/service:Service"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
POD_WORKLOADS = ("Deployment", "Job", "DaemonSet", "StatefulSet")


class Graph:
    """Transitive dependencies of every registered resource."""

    def __init__(self, capture: Capture):
        self.capture = capture
        self.by_urn = {r.urn: r for r in capture.resources}

    def direct(self, res: Captured) -> set[str]:
        deps = set(res.depends_on)
        if res.provider:
            deps.add(res.provider.rsplit("::", 1)[0])  # a provider reference is <urn>::<id>
        parent = self.by_urn.get(res.parent)
        if parent is not None and parent.custom:
            deps.add(parent.urn)
        return deps

    @cached_property
    def _closure(self) -> dict[str, frozenset[str]]:
        memo: dict[str, frozenset[str]] = {}

        def walk(urn: str) -> frozenset[str]:
            if urn not in memo:
                memo[urn] = frozenset()  # a cycle cannot loop forever; the engine would reject it
                res = self.by_urn.get(urn)
                found: set[str] = set()
                for dep in self.direct(res) if res else ():
                    found.add(dep)
                    found |= walk(dep)
                memo[urn] = frozenset(found)
            return memo[urn]

        for urn in self.by_urn:
            walk(urn)
        return memo

    def ancestors(self, res: Captured) -> list[Captured]:
        return [self.by_urn[u] for u in self._closure[res.urn] if u in self.by_urn]

    def urns_before(self, urns: tuple[str, ...]) -> set[str]:
        out = set(urns)
        for urn in urns:
            out |= self._closure.get(urn, frozenset())
        return out


def enabled_before(graph: Graph, ancestors: list[Captured] | set[str]) -> set[str]:
    """The APIs whose Service is among ``ancestors`` (resources or URNs)."""
    found = ancestors if isinstance(ancestors, list) else [graph.by_urn[u] for u in ancestors if u in graph.by_urn]
    return {r.inputs["service"] for r in found if r.type == SERVICE}


def _kind(res: Captured) -> str | None:
    return res.inputs.get("kind") if res.is_kubernetes else None


def _pod_spec(res: Captured) -> dict | None:
    if _kind(res) not in POD_WORKLOADS:
        return None
    return res.inputs["spec"]["template"]["spec"]


def repository_url(repo: Captured) -> str:
    """The Docker path of an Artifact Registry repository: ``<location>-docker.pkg.dev/<project>/<id>``
    (artifactregistry v1 Repository.registryUri: "for example: us-docker.pkg.dev/my-proj/my-repo")."""
    i = repo.inputs
    return f"{i['location']}-docker.pkg.dev/{i['project']}/{i['repositoryId']}"


def pulled_repositories(capture: Capture, res: Captured) -> list[Captured]:
    """The stack's repositories the pods of ``res`` pull an image from."""
    spec = _pod_spec(res)
    if spec is None:
        return []
    images = [c.get("image", "") for c in (*spec.get("initContainers", []), *spec["containers"])]
    return [r for r in capture.of_type(REPOSITORY) if any(i.startswith(repository_url(r) + "/") for i in images)]
