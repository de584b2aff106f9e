"""The Google APIs the stack calls, enabled by the stack itself.

A fresh project has none of them on, and the first ``pulumi up`` would fail half-way with
"API has not been used in project". ``disable_on_destroy=False``: turning an API off on
destroy would break anything else in the project that uses it.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

APIS = (
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "logging.googleapis.com",
    "storage.googleapis.com",
)


class ProjectApis(pulumi.ComponentResource):
    """Enables :data:`APIS` on the project; dependants wait on :attr:`ready`."""

    def __init__(self, name: str, project: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gke-gpu-serving:project:Apis", name, None, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                project=project,
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for api in APIS
        ]
        self.register_outputs({"services": [s.service for s in self.services]})
