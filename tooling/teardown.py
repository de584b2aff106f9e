"""Teardown gate: may ``pulumi destroy`` run on this stack?

    python -m tooling.teardown --stack prod [--confirm prod]

GKE clusters are created with ``deletion_protection`` (the provider defaults it to true), and
the provider refuses to delete a protected cluster: a ``pulumi destroy`` against such a stack
deletes everything it can, then stops half-way with the cluster still running and billing
GPUs. The flag lives in the stack's config (``gke-gpu-serving:cluster.deletionProtection``) and
only takes effect once a ``pulumi up`` has applied it, so turning it off is a reviewed change
to ``Pulumi.<stack>.yaml``, not a switch in the destroy workflow.

This gate reads the committed stack file and allows a destroy only when that flag is
explicitly ``false``. Anything else (true, unset, an unreadable value) is a refusal with the
steps that make the destroy possible. It also refuses a destroy that could not finish: a bucket
that is neither emptied by the destroy (``forceDestroy``, dev only) nor left in place
(``retainOnDelete``, the default outside dev) stops it once it holds an object, and a stack
whose Kubernetes calls go to an IP endpoint behind authorized networks cannot delete its
LoadBalancer Services from the workflow's GitHub-hosted runners. Bucket fates come from
:func:`infra.config.bucket_fate`, the function the stack itself uses. It deliberately has no override: the way to destroy prod
is the config change, reviewed and deployed like any other. ``--confirm`` checks the typed
confirmation of the destroy workflow, so the whole decision is one tested function.

It imports no Pulumi code (only YAML and the pure config helpers), so it answers in
milliseconds and cannot be affected by the program it guards.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.config import BUCKET_FATES, ClusterConfig, ConfigError, bucket_fate, read_stack_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
NAMESPACE = "gke-gpu-serving"
CLUSTER_KEY = f"{NAMESPACE}:cluster"
FLAG_PATH = f"{CLUSTER_KEY}.deletionProtection"

# Pulumi stack names: letters, digits, '-', '_', '.'; anything else is not a file we should open.
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")

EXIT_ALLOWED = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Decision:
    """Whether the stack may be destroyed, and the sentence that explains it to the operator."""

    stack: str
    allowed: bool
    reason: str


def _is_false(value: Any) -> bool:
    """Only an explicit false counts: ``pulumi config set --path`` may store it as a string."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _flag(value: Any) -> bool | None:
    """A boolean config value as written (``true``/``false`` or the strings ``config set`` stores)."""
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def bucket_fates(environment: str, storage: Any) -> dict[str, str]:
    """``storage.buckets[].name`` -> what destroy does to it (a key of BUCKET_FATES)."""
    buckets = storage.get("buckets") if isinstance(storage, Mapping) else None
    out = {}
    for i, bucket in enumerate(buckets if isinstance(buckets, list) else []):
        if not isinstance(bucket, Mapping):
            continue
        out[str(bucket.get("name", f"buckets[{i}]"))] = bucket_fate(
            environment,
            bool(_flag(bucket.get("forceDestroy"))),
            _flag(bucket.get("protect")),
            _flag(bucket.get("retainOnDelete")),
        )
    return out


def unfinishable(stack: str, config: Mapping[str, Any], environment: str, cluster: Mapping[str, Any]) -> list[str]:
    """Why a destroy of this stack would stop half-way, one sentence per cause (empty: it can finish)."""
    causes = []
    for name, fate in bucket_fates(environment, config.get(f"{NAMESPACE}:storage")).items():
        if fate == "blocks":
            causes.append(
                f"bucket '{name}' is {BUCKET_FATES['blocks']}; set storage.buckets[].retainOnDelete true "
                f"(keep it and its models) in Pulumi.{stack}.yaml and `pulumi up`, or empty it first "
                "(`gcloud storage rm -r --all-versions gs://<bucket>/**`)"
            )
    try:
        parsed = ClusterConfig.model_validate(cluster)
    except ValidationError:
        parsed = None  # a cluster block `pulumi up` would have rejected: nothing was applied from it
    if (
        parsed is not None
        and parsed.kubeconfig_via == "ip"
        and parsed.master_authorized_networks
        and not parsed.deploy_networks
    ):
        causes.append(
            "the stack's kubeconfig uses the IP endpoint behind masterAuthorizedNetworks, which the workflow's "
            "GitHub-hosted runners cannot reach, so its LoadBalancer Services cannot be deleted; use "
            "cluster.kubeconfigEndpoint: dns and `pulumi up`, or destroy from an authorized network"
        )
    return causes


def decide(stack: str, stack_doc: Mapping[str, Any] | None) -> Decision:
    """The gate's decision for ``stack`` given its parsed ``Pulumi.<stack>.yaml``.

    Pure: no I/O, so every branch is tested directly.
    """
    config = (stack_doc or {}).get("config") or {}
    environment = config.get(f"{NAMESPACE}:environment", stack)
    cluster = config.get(CLUSTER_KEY)
    cluster = cluster if isinstance(cluster, Mapping) else {}
    value = cluster.get("deletionProtection")
    mode = cluster.get("mode")
    causes = unfinishable(stack, config, environment, cluster)

    if _is_false(value) and causes:
        return Decision(
            stack, False, f"stack '{stack}' refuses teardown: the destroy could not finish: " + "; ".join(causes) + "."
        )
    if _is_false(value):
        fates = bucket_fates(environment, config.get(f"{NAMESPACE}:storage"))
        note = "".join(f" Bucket '{name}': {BUCKET_FATES[fate]}." for name, fate in fates.items())
        if mode == "existing":
            note += " The cluster is an existing one: destroy removes what the stack put on it, never the cluster."
        return Decision(stack, True, f"stack '{stack}': {FLAG_PATH} is false; destroy may run.{note}")

    shown = "not set (the provider then defaults to true)" if value is None else json.dumps(value)
    steps = (
        f"To destroy it: set {FLAG_PATH} to false in Pulumi.{stack}.yaml, merge that change and let "
        f"`pulumi up` apply it (deploy.yml does on main, or run `pulumi up -s {stack}`), then run the "
        "destroy again."
    )
    if environment == "prod":
        steps += (
            " Prod's buckets are protected and retained: they survive the destroy either way, and are "
            "removed only by hand."
        )
    return Decision(stack, False, f"stack '{stack}' refuses teardown: {FLAG_PATH} is {shown}. {steps}")


def confirmation_problem(stack: str, confirmation: str | None) -> str | None:
    """Why the typed confirmation does not authorise destroying ``stack``, or None if it does."""
    if confirmation is None:
        return None
    if confirmation != stack:
        return (
            f"confirmation {confirmation!r} does not match the stack name {stack!r}; "
            "type the stack name exactly to destroy it"
        )
    return None


def load(stack: str, project_dir: Path = PROJECT_DIR) -> Mapping[str, Any]:
    """The parsed stack file; FileNotFoundError names the stacks that do exist."""
    if not STACK_NAME.fullmatch(stack) or stack.startswith("."):
        raise ValueError(f"{stack!r} is not a stack name (letters, digits, '-', '_', '.')")
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.split(".")[1] for p in project_dir.glob("Pulumi.*.yaml"))
        raise FileNotFoundError(f"no stack file {path.name}; known stacks: {', '.join(known) or 'none'}")
    return read_stack_file(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.teardown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--confirm", metavar="NAME", help="typed confirmation; must equal the stack name")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    problem = confirmation_problem(args.stack, args.confirm)
    if problem:
        print(f"refused: {problem}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        doc = load(args.stack, args.project_dir)
    except (OSError, ValueError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    decision = decide(args.stack, doc)
    print(decision.reason, file=sys.stdout if decision.allowed else sys.stderr)
    return EXIT_ALLOWED if decision.allowed else EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
