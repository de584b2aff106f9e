"""The Google APIs the stack calls, enabled by the stack itself, each before its first use.

A fresh project has almost none of them on, and a request to a disabled API fails with "API
has not been used in project ... or it is disabled". Which APIs a stack needs is derived from
the resources it actually creates: every component asks :meth:`ProjectApis.opts` for the
options of each Google resource it makes, which looks up the API of that resource's class
(:data:`API_BY_MODULE`, keyed by the pulumi-gcp module the class lives in), enables it on first
use and makes the resource depend on it. Pulumi does not pass a component's ``depends_on`` on to
its children, so the edge is on every resource itself. Features that call an API no resource
names (image streaming, Workload Identity token exchange) ask for it with :meth:`require`.

``disable_on_destroy=False``: turning an API off on destroy would break anything else in the
project that uses it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

# pulumi-gcp module -> the API its resources call. Sources: each resource's endpoint in
# hashicorp/terraform-provider-google (google/services/<service>/, the base path in product.go).
API_BY_MODULE = {
    "artifactregistry": "artifactregistry.googleapis.com",
    "compute": "compute.googleapis.com",
    "container": "container.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
    # google_service_account and its IAM members: iam.googleapis.com/v1 projects.serviceAccounts.
    "serviceaccount": "iam.googleapis.com",
    "storage": "storage.googleapis.com",
}
# Classes whose resources call another API than the rest of their module, as (module, class).
API_BY_CLASS = {
    # google_project_iam_member reads and writes the project's IAM policy through Cloud Resource
    # Manager v1 (resourcemanager/iam_project.go: Projects.GetIamPolicy / SetIamPolicy).
    ("projects", "IAMMember"): "cloudresourcemanager.googleapis.com",
    # Enabling an API is the Service Usage API's own job: it must be on already (see README).
    ("projects", "Service"): None,
}
# Data sources (invokes) and the API they read.
API_BY_INVOKE = {
    "gcp:organizations/getProject:getProject": "cloudresourcemanager.googleapis.com",
    "gcp:container/getCluster:getCluster": "container.googleapis.com",
}

# Called by features rather than by a resource of their own.
# Image streaming: "enable the Container File System API" (GKE, Use Image streaming to pull
# container images, Requirements).
IMAGE_STREAMING_API = "containerfilesystem.googleapis.com"
# The GKE metadata server exchanges a KSA's token for the GSA's access token through the IAM
# Service Account Credentials API (generateAccessToken); with it off, pods get "IAM returned 403
# Forbidden: IAM Service Account Credentials API has not been used in project" (google/kctf#194).
WORKLOAD_IDENTITY_API = "iamcredentials.googleapis.com"
# Binary Authorization evaluates the project's policy on every pod admission.
BINARY_AUTHORIZATION_API = "binaryauthorization.googleapis.com"
# A cluster sends its system logs and metrics (and Managed Prometheus its samples) to these.
CLUSTER_TELEMETRY_APIS = ("logging.googleapis.com", "monitoring.googleapis.com")


def api_for(module: str, class_name: str) -> str | None:
    """The API the resources of a pulumi-gcp class call; KeyError for a module not in the table."""
    if (module, class_name) in API_BY_CLASS:
        return API_BY_CLASS[(module, class_name)]
    if module not in API_BY_MODULE:
        raise KeyError(f"pulumi-gcp module {module!r}: add the API it calls to infra.apis.API_BY_MODULE")
    return API_BY_MODULE[module]


def api_for_type(type_token: str) -> str | None:
    """The API a registered resource type calls (``gcp:container/cluster:Cluster`` ->
    ``container.googleapis.com``); None for resources that call no Google API."""
    if not type_token.startswith("gcp:"):
        return None
    _, path, class_name = type_token.split(":", 2)
    return api_for(path.split("/", 1)[0], class_name)


def api_for_class(cls: type) -> str | None:
    """The API a pulumi-gcp resource class calls (its module is ``pulumi_gcp.<module>.<file>``)."""
    parts = cls.__module__.split(".")
    if parts[0] != "pulumi_gcp":
        raise TypeError(f"{cls.__qualname__} is not a pulumi-gcp resource class")
    return api_for(parts[1], cls.__name__)


class ProjectApis(pulumi.ComponentResource):
    """Enables, on first use, the API of every Google resource the stack creates."""

    def __init__(self, name: str, project: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-gpu-serving:project:Apis", name, None, opts)
        self._name = name
        self._project = project
        self.services: dict[str, gcp.projects.Service] = {}

    def require(self, *apis: str) -> list[gcp.projects.Service]:
        """The Service resources enabling ``apis``, created the first time each is asked for."""
        out = []
        for api in apis:
            if api not in self.services:
                self.services[api] = gcp.projects.Service(
                    f"{self._name}-{api.split('.')[0]}",
                    project=self._project,
                    service=api,
                    disable_on_destroy=False,
                    disable_dependent_services=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            out.append(self.services[api])
        return out

    def opts(
        self, cls: type, opts: pulumi.ResourceOptions | None = None, *, also: tuple[str, ...] = ()
    ) -> pulumi.ResourceOptions:
        """``opts`` for a new ``cls`` resource, depending on its API (and on ``also``) being enabled."""
        api = api_for_class(cls)
        needed = ((api,) if api else ()) + also
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=self.require(*needed)))

    def invoke_opts(self, token: str) -> pulumi.InvokeOutputOptions:
        """Options for a data source: it runs once the API it reads is enabled."""
        return pulumi.InvokeOutputOptions(depends_on=self.require(API_BY_INVOKE[token]))

    def finish(self) -> None:
        self.register_outputs({"services": sorted(self.services)})
