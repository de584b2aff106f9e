"""Artifact Registry Docker repositories for model and app images (seed 000 pushed both to
Container Registry, which is shut down).

Repositories live in the cluster's region (pulls stay regional and free of egress), delete
untagged images after a configurable age (every rebuild leaves one behind), and grant read
access to the node service account only: nodes pull images, nobody else needs to.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
from pydantic import Field

from infra import naming
from infra.apis import ProjectApis
from infra.config import ComponentArgs


class RegistryArgs(ComponentArgs):
    prefix: str
    project: str
    region: str
    repositories: tuple[str, ...]
    untagged_retention_days: int = 7
    immutable_tags: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


def repository_url(region: str, project: str, repository_id: str) -> str:
    """The Docker host/path images are pushed to."""
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


class ImageRegistry(pulumi.ComponentResource):
    urls: dict[str, str]

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
        self.urls = {}
        for repo in args.repositories:
            repo_id = naming.budget_name(args.prefix, repo, max_len=naming.COMPUTE_NAME_MAX)
            repository = gcp.artifactregistry.Repository(
                f"{name}-{repo}",
                repository_id=repo_id,
                project=args.project,
                location=args.region,
                format="DOCKER",
                description=f"{repo} images of {args.prefix}",
                cleanup_policy_dry_run=False,
                cleanup_policies=cleanup_policies(args.untagged_retention_days),
                docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=args.immutable_tags),
                labels=args.labels,
                opts=apis.opts(gcp.artifactregistry.Repository, child),
            )
            if reader_member is not None:
                gcp.artifactregistry.RepositoryIamMember(
                    f"{name}-{repo}-nodes-reader",
                    project=args.project,
                    location=args.region,
                    repository=repository.name,
                    role="roles/artifactregistry.reader",
                    member=reader_member,
                    opts=apis.opts(gcp.artifactregistry.RepositoryIamMember, child),
                )
            self.urls[repo] = repository_url(args.region, args.project, repo_id)
        self.register_outputs({"urls": self.urls})
