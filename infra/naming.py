"""One naming scheme and one label set for every resource the stack creates.

Google Cloud and Kubernetes each cap name lengths differently (a GKE cluster or node pool name
at 40 characters, a service-account ID at 6-30, a bucket at 63, a Kubernetes label value at
63), and a name that is too long fails only at ``pulumi up`` time, half-way through a
deployment. Every physical name therefore goes through :func:`budget_name`, which keeps names
DNS-1123 and inside the budget of the resource kind, shortening with a stable hash instead of
failing. Labels come from :func:`gcp_labels` and :func:`k8s_labels` so that one stack is one
versioned, filterable unit in billing exports and in ``kubectl get -l``.
"""

from __future__ import annotations

import hashlib
import re

from infra import __version__

PROJECT = "gke-gpu-serving"

# Length budgets, from the API reference of each resource kind.
CLUSTER_NAME_MAX = 40  # container.projects.locations.clusters: name <= 40 chars
NODE_POOL_NAME_MAX = 40  # node pool name <= 40 chars
SERVICE_ACCOUNT_ID_MIN = 6  # iam.serviceAccounts.create: accountId 6-30 chars
SERVICE_ACCOUNT_ID_MAX = 30
BUCKET_NAME_MAX = 63  # storage bucket name 3-63 chars (without dots)
COMPUTE_NAME_MAX = 63  # RFC 1035 names of networks, subnets, routers, NATs
K8S_NAME_MAX = 63  # DNS-1123 label (Services, namespaces)
LABEL_VALUE_MAX = 63  # GCP and Kubernetes label values

_DNS1123_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_HASH_LEN = 6


def is_dns1123_label(value: str, max_len: int = K8S_NAME_MAX) -> bool:
    """True when ``value`` is a DNS-1123 label that starts with a letter and fits ``max_len``.

    Starting with a letter is stricter than Kubernetes requires, but it is what GCP resource
    names (RFC 1035) require, and one rule for both keeps names portable between them.
    """
    return 0 < len(value) <= max_len and bool(_DNS1123_LABEL.match(value))


def budget_name(*parts: str, max_len: int) -> str:
    """Join ``parts`` with ``-`` into a DNS-1123 name no longer than ``max_len``.

    A name that fits is returned as is. A longer one is cut and ends in a hash of the full
    name, so two long names that share a prefix stay distinct and the same input always
    gives the same name (names are identities: changing one replaces the resource).
    """
    full = "-".join(p.strip("-").lower() for p in parts if p)
    if not is_dns1123_label(full, max_len=10_000):
        raise ValueError(f"{full!r} is not a DNS-1123 name (lower-case letters, digits, '-')")
    if len(full) <= max_len:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH_LEN]
    head = full[: max_len - _HASH_LEN - 1].rstrip("-")
    return f"{head}-{digest}"


def service_account_id(prefix: str, workload: str) -> str:
    """A Google service-account ID (6-30 chars) for ``workload`` in the stack ``prefix``."""
    name = budget_name(prefix, workload, max_len=SERVICE_ACCOUNT_ID_MAX)
    if len(name) < SERVICE_ACCOUNT_ID_MIN:
        name = f"{name}-sa"
    return name


def gcp_label_value(value: str) -> str:
    """``value`` as a GCP label value: lower case, ``[a-z0-9_-]``, at most 63 chars."""
    cleaned = re.sub(r"[^a-z0-9_-]", "-", value.lower())[:LABEL_VALUE_MAX]
    assert _GCP_LABEL_VALUE.match(cleaned)
    return cleaned


def version_label() -> str:
    """The project version as a label value (GCP label values may not contain dots)."""
    return gcp_label_value(__version__)


def gcp_labels(environment: str, component: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The label set every Google Cloud resource carries."""
    labels = {k: gcp_label_value(v) for k, v in (extra or {}).items()}
    labels.update(
        {
            "project": PROJECT,
            "environment": gcp_label_value(environment),
            "component": gcp_label_value(component),
            "version": version_label(),
            "managed-by": "pulumi",
        }
    )
    return labels


def k8s_labels(environment: str, component: str, name: str | None = None) -> dict[str, str]:
    """The label set every Kubernetes object carries (``app.kubernetes.io/*`` recommended labels)."""
    labels = {
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": __version__,
        f"{PROJECT}/environment": environment,
    }
    if name:
        labels["app.kubernetes.io/name"] = name
    return labels


_MACHINE_SERIES_SHORT = {"standard": "s", "highmem": "m", "highcpu": "c"}


def machine_short(machine_type: str) -> str:
    """``n1-standard-8`` -> ``n1s8``; ``g2-standard-24`` -> ``g2s24``."""
    family, series, size = machine_type.split("-", 2)
    return f"{family}{_MACHINE_SERIES_SHORT.get(series, series[:1])}{size}"


def accelerator_short(accelerator: str) -> str:
    """``nvidia-tesla-t4`` -> ``t4``; ``nvidia-l4`` -> ``l4``."""
    return accelerator.rsplit("-", 1)[-1]


def gpu_pool_name(
    accelerator: str,
    gpus_per_node: int,
    machine_type: str,
    *,
    spot: bool,
    sharing: str | None = None,
    max_clients: int | None = None,
) -> str:
    """A node-pool name that says what the pool holds, e.g. ``t4x1-n1s8-spot-ts2``.

    ``sharing`` is ``time-sharing`` or ``mps``; the suffix carries the clients per GPU because
    two pools that differ only in sharing schedule differently and must not share a name.
    """
    parts = [f"{accelerator_short(accelerator)}x{gpus_per_node}", machine_short(machine_type)]
    if spot:
        parts.append("spot")
    if sharing:
        parts.append(f"{'ts' if sharing == 'time-sharing' else 'mps'}{max_clients}")
    return budget_name(*parts, max_len=NODE_POOL_NAME_MAX)
