"""Workload Identity: a Kubernetes service account mapped to exactly one least-privilege identity.

Two modes (``gke-gpu-serving:identity.mode``):

- ``service-account``: a dedicated Google service account per workload; the KSA is annotated
  ``iam.gke.io/gcp-service-account: <gsa-email>`` and may impersonate it through
  ``roles/iam.workloadIdentityUser`` granted to ``serviceAccount:<project>.svc.id.goog[<ns>/<ksa>]``.
- ``direct``: no Google service account; IAM grants name the KSA itself as the Workload
  Identity Federation principal
  ``principal://iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<project>.svc.id.goog/subject/ns/<ns>/sa/<ksa>``.

Access is granted per bucket with non-authoritative ``*IAMMember`` resources: readers get
``roles/storage.objectViewer``, writers (conversion jobs) ``roles/storage.objectUser`` (they
re-run and overwrite). Never a project-wide storage role, never an authoritative
``IAMBinding``/``IAMPolicy``: those strip every other holder of the role (an anchor's bug).
Without the binding, GCS FUSE mounts fail with 403 ``getAccessToken`` (DESIGN.md section 5).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from infra import naming
from infra.apis import WORKLOAD_IDENTITY_API, ProjectApis
from infra.config import ComponentArgs

READER_ROLE = "roles/storage.objectViewer"
WRITER_ROLE = "roles/storage.objectUser"
WI_USER_ROLE = "roles/iam.workloadIdentityUser"
GSA_ANNOTATION = "iam.gke.io/gcp-service-account"


class IdentityArgs(ComponentArgs):
    workload: str
    namespace: str
    ksa_name: str
    project: str
    prefix: str
    environment: str
    mode: str = "service-account"
    create_namespace: bool = False
    create_ksa: bool = True
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    # Project-level roles that are not storage roles (e.g. roles/monitoring.viewer for the
    # custom-metrics adapter); storage access is always per bucket.
    project_roles: tuple[str, ...] = ()


def wi_member(pool: str, namespace: str, ksa: str) -> str:
    """The member a GSA grants ``roles/iam.workloadIdentityUser`` to (``pool``: ``<project>.svc.id.goog``)."""
    return f"serviceAccount:{pool}[{namespace}/{ksa}]"


def wif_principal(project_number: str, pool: str, namespace: str, ksa: str) -> str:
    """The direct Workload Identity Federation principal of a KSA."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
        f"workloadIdentityPools/{pool}/subject/ns/{namespace}/sa/{ksa}"
    )


def bucket_grants(reads: tuple[str, ...], writes: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(bucket key, role)`` pairs: writers get objectUser, readers objectViewer, once each."""
    grants = [(key, WRITER_ROLE) for key in dict.fromkeys(writes)]
    grants += [(key, READER_ROLE) for key in dict.fromkeys(reads) if key not in writes]
    return grants


class WorkloadIdentity(pulumi.ComponentResource):
    """KSA (+ namespace) and its one Google identity with per-bucket access."""

    ksa_name: str
    namespace: str
    member: pulumi.Output[str]
    gsa_email: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        args: IdentityArgs,
        *,
        apis: ProjectApis,
        workload_pool: pulumi.Input[str],
        buckets: dict[str, pulumi.Input[str]],
        provider: pulumi.ProviderResource,
        project_number: pulumi.Input[str] | None = None,
        namespace: pulumi.Resource | None = None,
        deleted_with: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``namespace``: the Namespace object the KSA lives in, when another component creates it."""
        super().__init__("gke-gpu-serving:identity:WorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The identity pool <project>.svc.id.goog exists only once a Workload Identity cluster does;
        # a grant to it before then fails with "Identity Pool does not exist"
        # (terraform-google-kubernetes-engine#916). ``workload_pool`` is the cluster's own output,
        # so every member built from it depends on the cluster in the recorded graph.
        pool = pulumi.Output.from_input(workload_pool)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider, deleted_with=deleted_with)
        self.workload = args.workload
        self.ksa_name = args.ksa_name
        self.namespace = args.namespace
        self.gsa_email = None
        labels = naming.k8s_labels(args.environment, "identity", args.workload)

        ns_resource = None
        if args.create_namespace:
            ns_resource = k8s.core.v1.Namespace(
                f"{name}-ns",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=labels),
                opts=k8s_opts,
            )

        annotations: dict[str, pulumi.Input[str]] = {}
        if args.mode == "service-account":
            gsa = gcp.serviceaccount.Account(
                f"{name}-gsa",
                account_id=naming.service_account_id(args.prefix, args.workload),
                display_name=f"{args.workload} ({args.environment}) via Workload Identity",
                description=f"Impersonated by KSA {args.namespace}/{args.ksa_name} only.",
                project=args.project,
                opts=apis.opts(gcp.serviceaccount.Account, child),
            )
            gcp.serviceaccount.IAMMember(
                f"{name}-wi-user",
                service_account_id=gsa.name,
                role=WI_USER_ROLE,
                member=pool.apply(lambda p: wi_member(p, args.namespace, args.ksa_name)),
                # Pods then trade their KSA token for the GSA's through IAM Credentials.
                opts=apis.opts(gcp.serviceaccount.IAMMember, child, also=(WORKLOAD_IDENTITY_API,)),
            )
            self.gsa_email = gsa.email
            self.member = gsa.member
            annotations[GSA_ANNOTATION] = gsa.email
        else:
            if project_number is None:
                raise ValueError("direct Workload Identity needs the project number")
            self.member = pulumi.Output.all(project_number, pool).apply(
                lambda v: wif_principal(v[0], v[1], args.namespace, args.ksa_name)
            )

        ksa_deps = [r for r in (ns_resource, namespace) if r is not None]
        ksa_meta = k8s.meta.v1.ObjectMetaArgs(
            name=args.ksa_name, namespace=args.namespace, labels=labels, annotations=annotations or None
        )
        if args.create_ksa:
            k8s.core.v1.ServiceAccount(
                f"{name}-ksa",
                metadata=ksa_meta,
                opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=ksa_deps)),
            )
        elif annotations:
            # A KSA that exists already (seed 001's KSA_NAME): add only the annotation, with
            # server-side apply, and leave the rest of the object to its owner.
            k8s.core.v1.ServiceAccountPatch(
                f"{name}-ksa-annotation",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                    name=args.ksa_name, namespace=args.namespace, annotations=annotations
                ),
                opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=ksa_deps)),
            )

        for key, role in bucket_grants(args.reads, args.writes):
            gcp.storage.BucketIAMMember(
                f"{name}-{key}-{role.rsplit('.', 1)[-1]}",
                bucket=buckets[key],
                role=role,
                member=self.member,
                opts=apis.opts(gcp.storage.BucketIAMMember, child),
            )
        for role in args.project_roles:
            gcp.projects.IAMMember(
                f"{name}-{role.rsplit('/', 1)[-1]}",
                project=args.project,
                role=role,
                member=self.member,
                opts=apis.opts(gcp.projects.IAMMember, child),
            )
        self.register_outputs({"ksa": f"{args.namespace}/{args.ksa_name}", "member": self.member})
