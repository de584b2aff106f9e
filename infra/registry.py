"""Artifact Registry Docker repositories in the cluster's region: the stack's own (model and app
images; seed 000 pushed both to Container Registry, which is shut down) and remote repositories
that cache the upstream registries the server images come from (Docker Hub for vLLM and
TorchServe, NVIDIA NGC for Triton), so that GKE can stream them (:mod:`infra.config.registry`).

Every repository is regional (pulls stay in the region and free of egress) and has a cleanup
policy: the stack's own delete untagged images after a configurable age (every rebuild leaves
one behind); the remote ones delete cached versions after an age while always keeping the most
recent versions of each image. A remote repository re-fetches a deleted version from its
upstream on the next pull, so its cleanup only bounds the cache. Read access goes to the node
service account only: nodes pull images, nobody else needs to.

Not verified offline: whether Artifact Registry accepts cleanup policies on a remote repository.
The artifactregistry v1 Discovery document's ``Repository.cleanupPolicies`` names no mode
restriction and the provider sends the field for any mode; the only cleanup page read offline
(a Preview-era copy of "Configure cleanup policies") speaks of standard repositories. The first
``pulumi up`` is the test; ``registry.cachedImages`` documents the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from infra import naming
from infra.apis import ProjectApis
from infra.config import ComponentArgs
from infra.config.values import DOCKER_HUB, split_image

STANDARD = "STANDARD_REPOSITORY"
REMOTE = "REMOTE_REPOSITORY"
# GKE streams images "stored in standard or remote repositories in Artifact Registry, or in a
# public registry on Docker Hub" (GKE, Use Image streaming, Requirements; the zh-CN copy reads
# "您的容器映像必须存储在 Artifact Registry 中的标准制品库或远程制品库中,或者存储在 Docker Hub 上的公共注册表中").
# Virtual repositories are not named, so they are not counted as eligible.
STREAMING_MODES = (STANDARD, REMOTE)
READER_ROLE = "roles/artifactregistry.reader"


class RemoteArgs(ComponentArgs):
    key: str
    upstream: str  # registry host images name (docker.io, nvcr.io)
    title: str
    public_repository: str | None = None
    uri: str | None = None


class RegistryArgs(ComponentArgs):
    prefix: str
    project: str
    region: str
    repositories: tuple[str, ...]
    untagged_retention_days: int = 7
    immutable_tags: bool = False
    remotes: tuple[RemoteArgs, ...] = ()
    cached_delete_days: int = 90
    cached_keep: int = 5
    labels: dict[str, str] = Field(default_factory=dict)


def repository_id(prefix: str, key: str) -> str:
    return naming.budget_name(prefix, key, max_len=naming.COMPUTE_NAME_MAX)


def repository_url(region: str, project: str, repository_id: str) -> str:
    """The Docker host/path images are pushed to and pulled from."""
    return f"{region}-docker.pkg.dev/{project}/{repository_id}"


def cleanup_policies(untagged_days: int) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-untagged",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="UNTAGGED", older_than=f"{untagged_days * 86_400}s"
            ),
        )
    ]


def cached_cleanup_policies(delete_days: int, keep: int) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """A remote repository's cache: versions older than ``delete_days`` go, except the ``keep``
    most recent of each image (a keep policy wins over a delete policy: "If an artifact version
    matches criteria in both a delete policy and a keep policy, Artifact Registry applies the keep
    policy", Artifact Registry, Cleanup policy overview). ``mostRecentVersions`` "May only be
    specified with a Keep action" (artifactregistry v1 CleanupPolicy)."""
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-old-cached",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                tag_state="ANY", older_than=f"{delete_days * 86_400}s"
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="keep-recent-cached",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(keep_count=keep),
        ),
    ]


def remote_config(remote: RemoteArgs) -> gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs:
    """Where a remote repository fetches from: the Docker Hub preset, or the upstream's URI as a
    ``commonRepository`` (``dockerRepository.customRepository`` is deprecated for it). No upstream
    credentials: the images are public and pull anonymously."""
    description = f"{remote.title} ({remote.upstream}), cached for GKE image streaming"
    if remote.public_repository is not None:
        return gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
            description=description,
            docker_repository=gcp.artifactregistry.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(
                public_repository=remote.public_repository
            ),
        )
    return gcp.artifactregistry.RepositoryRemoteRepositoryConfigArgs(
        description=description,
        common_repository=gcp.artifactregistry.RepositoryRemoteRepositoryConfigCommonRepositoryArgs(uri=remote.uri),
    )


def streaming_verdict(image: str, repositories: Mapping[str, str], streaming: bool | None) -> str:
    """Whether GKE streams ``image`` (one line for the plan): ``repositories`` maps the URL of each
    repository the stack manages to its mode; ``streaming`` is whether the nodes the pod lands on
    stream images (None: not known, an existing cluster)."""
    if streaming is False:
        return "no: image streaming is off on these nodes (cluster.imageStreaming, COS_CONTAINERD)"
    when = "" if streaming else "if the existing cluster's nodes stream images: "
    repo = next((url for url in repositories if image.startswith(url + "/")), None)
    if repo is not None:
        mode = repositories[repo]
        if mode in STREAMING_MODES:
            kind = "remote" if mode == REMOTE else "standard"
            return f"{when}yes: Artifact Registry {kind} repository {repo.rsplit('/', 1)[-1]}"
        return f"no: repository {repo.rsplit('/', 1)[-1]} is a {mode}"
    host = split_image(image)[0]
    if host.endswith(".pkg.dev"):
        return f"{when}only if its repository (not this stack's) is a standard or remote one"
    if host == "gcr.io" or host.endswith(".gcr.io"):
        # Container Registry is shut down and, from 2024-05-15, Artifact Registry hosts a project's
        # gcr.io images (the banner of Container Registry's "Container image formats" page, ko copy);
        # which repository serves a given gcr.io path is not known offline.
        return f"{when}only if Artifact Registry serves this gcr.io path from a standard repository (not known offline)"
    if host == DOCKER_HUB:
        return f"{when}yes if public: Docker Hub (not cached in the region)"
    return f"no: {host} is neither Artifact Registry nor Docker Hub"


class ImageRegistry(pulumi.ComponentResource):
    """``urls``: push URLs of the stack's own repositories; ``mirrors``: upstream registry host ->
    URL of the remote repository caching it; ``modes``: every repository URL -> its mode."""

    urls: dict[str, str]
    mirrors: dict[str, str]
    modes: dict[str, str]

    def __init__(
        self,
        name: str,
        args: RegistryArgs,
        *,
        apis: ProjectApis,
        reader_member: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gke-gpu-serving:registry:ImageRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.urls, self.mirrors, self.modes = {}, {}, {}
        self._pull: dict[str, list[pulumi.Resource]] = {}

        def add(key: str, mode: str, description: str, **kwargs) -> str:
            repo_id = repository_id(args.prefix, key)
            repository = gcp.artifactregistry.Repository(
                f"{name}-{key}",
                repository_id=repo_id,
                project=args.project,
                location=args.region,
                format="DOCKER",
                mode=mode,
                description=description,
                cleanup_policy_dry_run=False,
                labels=args.labels,
                opts=apis.opts(gcp.artifactregistry.Repository, child),
                **kwargs,
            )
            needed: list[pulumi.Resource] = [repository]
            if reader_member is not None:
                needed.append(
                    gcp.artifactregistry.RepositoryIamMember(
                        f"{name}-{key}-nodes-reader",
                        project=args.project,
                        location=args.region,
                        repository=repository.name,
                        role=READER_ROLE,
                        member=reader_member,
                        # Explicitly after the repository: the grant names it by an output.
                        opts=apis.opts(
                            gcp.artifactregistry.RepositoryIamMember,
                            pulumi.ResourceOptions(parent=self, depends_on=[repository]),
                        ),
                    )
                )
            url = repository_url(args.region, args.project, repo_id)
            self.modes[url] = mode
            self._pull[url] = needed
            return url

        for repo in args.repositories:
            self.urls[repo] = add(
                repo,
                STANDARD,
                f"{repo} images of {args.prefix}",
                cleanup_policies=cleanup_policies(args.untagged_retention_days),
                docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=args.immutable_tags),
            )
        for remote in args.remotes:
            self.mirrors[remote.upstream] = add(
                remote.key,
                REMOTE,
                f"{remote.title} images of {args.prefix}, cached in the region",
                remote_repository_config=remote_config(remote),
                cleanup_policies=cached_cleanup_policies(args.cached_delete_days, args.cached_keep),
            )
        self.register_outputs({"urls": self.urls, "mirrors": self.mirrors})

    def pulls(self, image: str) -> list[pulumi.Resource]:
        """What a pod pulling ``image`` needs first: the stack repository holding it and the node
        identity's read grant on it (nothing for an image elsewhere)."""
        return next((need for url, need in self._pull.items() if image.startswith(url + "/")), [])
