"""Container images: pinned to a version tag or a digest outside dev, and by digest in prod."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel

from ._pods import EXEMPT_SYSTEM, WORKLOAD_TYPES, scoped
from ._props import UNKNOWN, environments_config, get, in_scope, k8s_environment, resource_policy

_TAG = re.compile(r":([\w][\w.-]{0,127})$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference; None when untagged (which pulls ``latest``); the digest when pinned by one."""
    if "@" in image:
        return image.split("@", 1)[1]
    m = _TAG.search(image.rsplit("/", 1)[-1])
    return m.group(1) if m else None


def check_image_pinned(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    pod = scoped(props, config)
    if pod is None:
        return
    env = k8s_environment(props)
    if env is UNKNOWN or env in set(config["allowedEnvironments"]):
        return
    for name, c in pod.containers:
        image = get(c, "image")
        if not isinstance(image, str):
            continue
        tag = image_tag(image)
        if tag is None or tag == "latest":
            how = "untagged (pulls latest)" if tag is None else "tagged latest"
            yield f"container {name!r} image {image} is {how} in {env}; pin a version tag or a digest"


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# Image repositories that run from a version tag in prod whatever the stack says, each with its
# reason (README, exceptions): the metrics adapter's image is fixed in infra/metrics.py at the tag
# GKE's published manifest uses, and no registry was reachable here to read its digest.
TAG_WAIVERS = {
    "gcr.io/gke-release/custom-metrics-stackdriver-adapter": "fixed in infra/metrics.py at upstream's tag",
}


def image_repository(image: str) -> str:
    """The reference without its tag and digest (a registry's port stays)."""
    name = image.split("@", 1)[0]
    head, sep, last = name.rpartition("/")
    return f"{head}{sep}{last.split(':', 1)[0]}"


def check_prod_image_digest(props: Any, config: Mapping[str, Any]) -> Iterator[str]:
    """In prod every image is pinned by digest: a tag can be pushed again with other content, and
    the pods that start next (a new node, a rollout, an eviction) would run it unreviewed."""
    pod = scoped(props, config)
    if pod is None:
        return
    env = k8s_environment(props)
    if not in_scope(env, config["environments"]):
        return
    allowed = set(config.get("tagAllowed", ()))
    for name, c in pod.containers:
        image = get(c, "image")
        if not isinstance(image, str) or _DIGEST.search(image) or image_repository(image) in allowed:
            continue
        yield (
            f"container {name!r} image {image} is not pinned by digest in {env}: a tag can be moved to other "
            f"content; pin it as {image_repository(image)}@sha256:<digest> (crane digest {image}), or list "
            f"{image_repository(image)} in tagAllowed"
        )


image_pinned = resource_policy(
    name="k8s-image-pinned",
    description="Outside dev, container images are pinned to a version tag or digest, never latest or untagged.",
    types=WORKLOAD_TYPES,
    check=check_image_pinned,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "allowedEnvironments": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["dev"],
            "description": "Environments where latest or untagged images are allowed.",
        },
    },
)

prod_image_digest = resource_policy(
    name="k8s-prod-image-digest",
    description="In prod, container images are pinned by digest (image@sha256:...), not only by a tag.",
    types=WORKLOAD_TYPES,
    check=check_prod_image_digest,
    level=EnforcementLevel.MANDATORY,
    config={
        **EXEMPT_SYSTEM,
        "environments": environments_config(["prod"], "whose images must be pinned by digest"),
        "tagAllowed": {
            "type": "array",
            "items": {"type": "string"},
            "default": sorted(TAG_WAIVERS),
            "description": "Image repositories (no tag) that may run from a version tag; say why in the README's "
            "exceptions table and remove the entry once the digest is pinned.",
        },
    },
)

POLICIES = [image_pinned, prod_image_digest]
