"""Values the configuration and the workloads read alike: Kubernetes quantities, image references,
gs:// and hf:// URIs, CIDRs. No models here, so ``workloads/`` imports these directly."""

from __future__ import annotations

import ipaddress
import re

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][-+]?[0-9]+|[mkMGTPE]i?|Ki|m)?$")
_IMAGE_TAG = re.compile(r"^(?P<repo>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range like 10.0.0.0/20 ({exc})") from None
    return value


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity (``500m``, ``16Gi``, ``2``) as a float in base units."""
    m = _QUANTITY.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a Kubernetes quantity such as 500m, 4, 16Gi")
    number, suffix = float(m.group(1)), m.group(2) or ""
    factors = {
        "": 1,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
    }
    if suffix and suffix[0] in "eE" and suffix not in factors:
        return number * 10 ** int(suffix[1:])
    return number * factors[suffix]


# An image reference as the container runtime parses it (github.com/distribution/reference,
# regexp.go): an optional registry host (with a '.' or ':' in it, or localhost) and port, a
# lower-case path of components [a-z0-9]+ joined by '.', '_', '__' or '-', an optional tag
# [\w][\w.-]{0,127} and an optional sha256 digest. No URL scheme.
_HOST = (
    r"(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+)(?::[0-9]+)?"
)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def _image_ref(value: str | None) -> str | None:
    if value is None:
        return None
    if "://" in value:
        raise ValueError(
            f"{value!r} is not an image reference: drop the URL scheme and write host/path:tag, "
            "e.g. us-central1-docker.pkg.dev/my-project/models/t5:1.0"
        )
    if not _IMAGE_REF.match(value):
        raise ValueError(
            f"{value!r} is not an image reference: a registry host, a lower-case path, then :tag or "
            "@sha256:digest, e.g. us-central1-docker.pkg.dev/my-project/models/t5:1.0"
        )
    return value


_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


def _digest(value: str) -> str:
    if not _DIGEST.match(value):
        raise ValueError(
            f"{value!r} is not an image digest: write sha256: and 64 lower-case hex digits, as "
            "`crane digest <image>` prints them"
        )
    return value


def image_tag(image: str) -> str | None:
    """The tag of an image reference, ``None`` when it is untagged (which means ``latest``)."""
    last = image.rsplit("/", 1)[-1]
    m = _IMAGE_TAG.match(last)
    if not m:
        return None
    if m.group("digest") and not m.group("tag"):
        return m.group("digest")
    return m.group("tag")


def _gs_or_hf(value: str) -> str:
    if not re.match(r"^(gs|hf)://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is neither a gs:// nor an hf:// URI; use gs://{{bucket}}/path or hf://org/model")
    return value


def _gs(value: str) -> str:
    if not re.match(r"^gs://[^/\s]+(/\S*)?$", value):
        raise ValueError(f"{value!r} is not a gs:// URI; use gs://{{bucket}}/path or gs://bucket-name/path")
    return value


def bucket_ref(uri: str) -> str | None:
    """``{key}`` of a ``gs://{key}/...`` URI, or None."""
    m = re.match(r"^gs://\{([^}]*)\}(/|$)", uri)
    return m.group(1) if m else None


# How the container runtime reads a reference's registry (github.com/distribution/reference,
# normalize.go splitDockerDomain): the first path component is a registry host only if it holds
# a '.' or a ':' or is "localhost" (and is lower-case); otherwise the image is on Docker Hub,
# "docker.io". "index.docker.io" is Docker Hub's legacy name (normalized to docker.io there) and
# "registry-1.docker.io" its actual registry endpoint (the same file's comment on defaultDomain).
# A single-component Docker Hub name is an official image under "library/" (officialRepoPrefix):
# "python:3.11" is docker.io/library/python:3.11.
DOCKER_HUB = "docker.io"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
OFFICIAL_IMAGE_PREFIX = "library/"


def split_image(image: str) -> tuple[str, str, str]:
    """``(registry, repository path, rest)`` of an image reference, the runtime's way: the registry
    with Docker Hub's aliases folded to ``docker.io``, the path with Docker Hub's implicit
    ``library/``, and ``rest`` the reference's ``:tag``, ``@digest`` or both, as written."""
    slash = image.find("/")
    first = image[:slash] if slash != -1 else ""
    if slash == -1 or (not any(c in first for c in ".:") and first != "localhost" and first.lower() == first):
        host, remainder = DOCKER_HUB, image
    else:
        host, remainder = first, image[slash + 1 :]
    name, at, digest = remainder.partition("@")
    path, colon, tag = name.partition(":")
    rest = (colon + tag) + (at + digest)
    if host in DOCKER_HUB_HOSTS:
        host = DOCKER_HUB
        if "/" not in path:
            path = OFFICIAL_IMAGE_PREFIX + path
    return host, path, rest


def mirror_image(image: str, mirrors: dict[str, str]) -> str:
    """``image`` pulled through the registry mirror of its upstream: ``mirrors`` maps an upstream
    registry (``docker.io``, ``nvcr.io``) to the URL of the repository that caches it. The path
    under the mirror is the upstream path (Docker Hub's with ``library/``), and the tag and digest
    stay as written. An image on any other registry is returned unchanged: the config pinned it."""
    host, path, rest = split_image(image)
    if host not in mirrors:
        return image
    return f"{mirrors[host]}/{path}{rest}"
