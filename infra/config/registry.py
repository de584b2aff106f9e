"""``gke-gpu-serving:registry``: the stack's Artifact Registry Docker repositories, the remote
repositories that cache the upstream registries its server images come from, and whether the
model servers pull through them.

Why the remote repositories: GKE streams an image only from Artifact Registry ("您的容器映像必须存储在
Artifact Registry 中的标准制品库或远程制品库中,或者存储在 Docker Hub 上的公共注册表中" - your container
images must be stored in standard or remote repositories in Artifact Registry, or in a public
registry on Docker Hub; GKE, Use Image streaming to pull container images, Requirements,
docs.cloud.google.com/kubernetes-engine/docs/how-to/image-streaming?hl=zh-cn). Triton comes from
NVIDIA NGC (``nvcr.io``), which is neither; vLLM and TorchServe from Docker Hub. A regional remote
repository caches each upstream in the cluster's region ("The first time that you request a
version of a package, Artifact Registry downloads and caches the package in the remote
repository", Artifact Registry, Remote repositories overview), so every image the servers pull
is in Artifact Registry, next to the nodes, with or without Cloud NAT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from infra.config.base import Problem, _dns_name, _Model, _repeats
from infra.config.values import DOCKER_HUB

if TYPE_CHECKING:
    from infra.config.stack import StackConfig

REPOSITORY_KEY_MAX = 20


@dataclass(frozen=True)
class Upstream:
    """How an Artifact Registry remote repository reaches one upstream registry: a preset
    (``remoteRepositoryConfig.dockerRepository.publicRepository``) or a URI
    (``remoteRepositoryConfig.commonRepository.uri``), each with the source that names it."""

    title: str
    public_repository: str | None = None
    uri: str | None = None
    source: str = ""


# The upstream registries the stack knows, keyed by the registry host an image reference names
# (infra.config.values.split_image folds Docker Hub's aliases into docker.io). To cache another
# registry, add it here with the source of its URI; its public images must pull anonymously,
# since the stack configures no upstream credentials.
UPSTREAMS: dict[str, Upstream] = {
    DOCKER_HUB: Upstream(
        "Docker Hub",
        public_repository="DOCKER_HUB",
        # artifactregistry v1 Discovery: DockerRepository.publicRepository enum DOCKER_HUB.
        source="artifactregistry.v1 DockerRepository.publicRepository",
    ),
    "nvcr.io": Upstream(
        "NVIDIA NGC",
        uri="https://nvcr.io",
        # commonRepository.uri "URI to the registry, e.g. https://registry-1.docker.io" (pulumi-gcp
        # RepositoryRemoteRepositoryConfigCommonRepositoryArgs); dockerRepository.customRepository
        # is "[Deprecated, please use commonRepository instead]" (the same package). The registry
        # host of Triton's image, nvcr.io/nvidia/tritonserver (NGC catalog).
        source="pulumi-gcp RepositoryRemoteRepositoryConfigCommonRepositoryArgs.uri",
    ),
}
UpstreamHost = Literal["docker.io", "nvcr.io"]


class RemoteConfig(_Model):
    """One remote repository: a regional pull-through cache of one upstream registry."""

    name: str = Field(description="key of the repository; its ID is <namePrefix>-<environment>-<name>")
    upstream: UpstreamHost = Field(description="the registry host it caches: docker.io (Docker Hub) or nvcr.io (NGC)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_name(value, REPOSITORY_KEY_MAX, "repository name")


class CachedImages(_Model):
    """What the remote repositories keep of what they cached."""

    delete_older_than_days: int = Field(
        90, ge=1, description="cached image versions older than this are deleted (pulled again from upstream on use)"
    )
    keep_most_recent: int = Field(5, ge=1, description="the most recent versions of each image are always kept")


DEFAULT_REMOTES = (RemoteConfig(name="docker-hub", upstream="docker.io"), RemoteConfig(name="nvcr", upstream="nvcr.io"))


class RegistryConfig(_Model):
    """Artifact Registry Docker repositories: the stack's own (model and app images, seed 000) and
    remote repositories caching the registries the server images come from."""

    repositories: tuple[str, ...] = ("models", "apps")
    untagged_retention_days: int = Field(7, ge=1)
    remotes: tuple[RemoteConfig, ...] = Field(
        DEFAULT_REMOTES, description="remote repositories, one per upstream registry the server images come from"
    )
    mirror_server_images: bool = Field(
        True,
        description="pull every model server image whose registry a remote caches through that remote repository; "
        "an image on any other registry is used as written",
    )
    cached_images: CachedImages = CachedImages()
    node_service_account: str | None = Field(
        None,
        description="cluster.mode existing: email of the cluster's node service account, granted "
        "roles/artifactregistry.reader on the stack's repositories",
    )

    @field_validator("repositories")
    @classmethod
    def _repos(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for repo in value:
            _dns_name(repo, REPOSITORY_KEY_MAX, "repository name")
        return value

    @field_validator("node_service_account")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".gserviceaccount.com"):
            raise ValueError(
                f"{value!r} is not a service account email such as nodes@my-project.iam.gserviceaccount.com"
            )
        return value

    def mirrored(self) -> tuple[RemoteConfig, ...]:
        """The remotes server images are rewritten to (none when ``mirrorServerImages`` is off)."""
        return self.remotes if self.mirror_server_images else ()


def _registry_checks(cfg: StackConfig) -> list[Problem]:
    reg = cfg.registry
    problems: list[Problem] = []
    for i, first in _repeats([r.name for r in reg.remotes]).items():
        problems.append(
            Problem(
                ("registry", "remotes", i, "name"),
                reg.remotes[i].name,
                f"repeats registry.remotes[{first}].name; each remote repository needs its own name",
            )
        )
    for i, first in _repeats([r.upstream for r in reg.remotes]).items():
        problems.append(
            Problem(
                ("registry", "remotes", i, "upstream"),
                reg.remotes[i].upstream,
                f"is cached by registry.remotes[{first}] already; images can be rewritten to one cache only, remove one",
            )
        )
    for i, remote in enumerate(reg.remotes):
        if remote.name in reg.repositories:
            problems.append(
                Problem(
                    ("registry", "remotes", i, "name"),
                    remote.name,
                    "is also in registry.repositories: both would get the repository ID "
                    f"{cfg.prefix}-{remote.name}; rename the remote",
                )
            )
    mode = cfg.cluster.mode
    if mode == "existing" and reg.node_service_account is None and reg.mirrored() and cfg.models:
        problems.append(
            Problem(
                ("registry", "nodeServiceAccount"),
                None,
                "the models' images are pulled through the stack's remote repositories, which an existing cluster's "
                "nodes read only with roles/artifactregistry.reader; set this to the email of their service account "
                "(the stack grants it the role), or set registry.mirrorServerImages: false to pull from the upstream registries",
            )
        )
    if mode != "existing" and reg.node_service_account is not None:
        problems.append(
            Problem(
                ("registry", "nodeServiceAccount"),
                reg.node_service_account,
                f"only for cluster.mode existing: a {mode} cluster's nodes run as the stack's own node service account; remove it",
            )
        )
    return problems
