"""Image references: pinned by digest or not, their repository, and the pull policy that fits.

An image reference is ``[host[:port]/]path[:tag][@sha256:<64 hex>]`` (infra/config.py
``_IMAGE_REF`` validates it). A digest names content and cannot move; a tag can be pushed again
with other content, so prod pins digests (the policy pack's ``k8s-prod-image-digest``).

The pull policy is rendered explicitly, with the value the API server would default it to
(kubernetes pkg/apis/core/v1/defaults.go ``SetDefaults_Container``: ``Always`` when the tag is
``latest``, which an untagged reference means, else ``IfNotPresent``), so a reviewer sees it and
the tests hold it to the reference:

- a digest: ``IfNotPresent``. The node already holding that digest holds exactly that content;
  asking the registry again adds a dependency on it and nothing else.
- a version tag: ``IfNotPresent``, not ``Always``. ``Always`` would make every container start
  (every restart of a GPU server) ask the registry to resolve the tag, failing when it is
  unreachable or rate-limited (Docker Hub serves vllm/vllm-openai and pytorch/torchserve), and it
  would still let two starts run different contents if the tag moved in between. A tag that must
  not move is a digest's job, which prod requires; outside prod a re-pushed version tag reaches a
  node only once that node has no copy of it.
- ``latest`` or no tag (dev only: infra/config.py refuses it elsewhere): ``Always``, since that tag
  moves by design.
"""

from __future__ import annotations

import re

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
LATEST = "latest"


def pinned_by_digest(image: str) -> bool:
    return _DIGEST.search(image) is not None


def repository(image: str) -> str:
    """The reference without its tag and digest: ``gcr.io/a/b:1@sha256:...`` -> ``gcr.io/a/b``."""
    name = image.split("@", 1)[0]
    head, sep, last = name.rpartition("/")
    return f"{head}{sep}{last.split(':', 1)[0]}"


def tag(image: str) -> str | None:
    """The tag, None when there is none (which means ``latest`` unless a digest is given)."""
    last = image.split("@", 1)[0].rpartition("/")[2]
    return last.split(":", 1)[1] if ":" in last else None


def pull_policy(image: str) -> str:
    if pinned_by_digest(image):
        return "IfNotPresent"
    return "Always" if tag(image) in (None, LATEST) else "IfNotPresent"
