"""Offline plan: what a stack would create, without a cloud account, credentials or Pulumi CLI.

    python -m tooling.plan --stack dev [--stack prod ...] [--render DIR] [--save FILE]
                         [--diff OLD.json] [--format text|markdown] [--color]

Runs ``__main__.py`` under the Pulumi SDK's mock runtime with the config of
``Pulumi.<stack>.yaml`` (see :mod:`tooling.offline`) and prints every resource it would register,
grouped by component, with the properties an operator checks first, then the stack outputs, the
cost estimate (:mod:`tooling.cost`) and a count summary. ``--render DIR`` also writes every
Kubernetes object as YAML. ``--save FILE`` writes the plans of all requested stacks as one JSON
document with secrets redacted; ``--diff OLD.json`` prints what changes against such a file
(replacements first) and the cost delta; ``--format markdown`` prints one pull-request comment
(:mod:`tooling.plan_diff`, :mod:`tooling.plan_report`). Values a provider computes (endpoints,
emails, random suffixes) are mock values; ``secure:`` config values are never decrypted. A bad
config prints the validation message and exits 2, with no traceback; a diff exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pulumi

from infra import capacity, config
from tooling import cost, first_answer, offline, plan_diff, plan_report, signal_paths
from tooling.offline import Capture
from tooling.plan_text import describe, render_manifests, render_text

EXIT_CONFIG = 2
# A MANDATORY policy violation (tooling/policy_check.py): distinct from a config error.
EXIT_POLICY = 3


def _use_color(forced: bool) -> bool:
    """ANSI colours when asked for, or when stdout is a terminal and NO_COLOR is unset."""
    return forced or (sys.stdout.isatty() and "NO_COLOR" not in os.environ)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stack",
        action="append",
        required=True,
        metavar="STACK",
        help="stack name: reads Pulumi.<stack>.yaml; repeat for several stacks",
    )
    parser.add_argument("--render", metavar="DIR", type=Path, help="also write every Kubernetes object as YAML to DIR")
    parser.add_argument(
        "--save", metavar="FILE", type=Path, help="write the plans of all stacks as one JSON document, secrets redacted"
    )
    parser.add_argument(
        "--diff",
        metavar="OLD.json",
        type=Path,
        help="compare with a plan written by --save: replacements first, then updates, creates, deletes, cost delta",
    )
    parser.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="markdown: one pull-request comment"
    )
    parser.add_argument("--color", action="store_true", help="ANSI colours even when stdout is not a terminal")
    parser.add_argument(
        "--policy-config",
        metavar="FILE",
        type=Path,
        help="policy pack config (pulumi --policy-pack-config format); default policies/config/<stack>.json if present",
    )
    parser.add_argument("--project-dir", type=Path, default=offline.PROJECT_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    baseline = None
    if args.diff:
        try:
            baseline = plan_diff.load(args.diff)
        except plan_diff.PlanFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    captures: dict[str, Capture] = {}
    capacities: dict[str, list[str]] = {}
    plans: dict[str, plan_diff.StackPlan] = {}
    errors: dict[str, str] = {}
    for stack in dict.fromkeys(args.stack):
        try:
            capture = offline.run_stack(stack, args.project_dir)
        except FileNotFoundError as exc:
            errors[stack] = str(exc)
            print(f"error: {exc}", file=sys.stderr)
            continue
        except config.ConfigError as exc:  # a malformed stack file: one line, never a traceback
            errors[stack] = str(exc)
            print(f"stack '{stack}': {exc}", file=sys.stderr)
            continue
        except pulumi.RunError as exc:
            errors[stack] = str(exc)
            print(f"stack '{stack}': {exc}", file=sys.stderr)
            continue
        captures[stack] = capture
        config_map, _ = offline.read_stack_config(stack, args.project_dir)
        plans[stack] = plan_diff.snapshot(capture, _estimate(config_map, args.project_dir))
        capacities[stack] = _config_lines(config_map, args.project_dir)
        if offline.project_name(args.project_dir) == offline.project_name():
            section = first_answer.lines(plan_diff.stack_config_of(config_map), capture)
            capacities[stack] += [*section, ""] if section else []
    document = plan_diff.normalized(plan_diff.PlanDocument(stacks=plans))

    if args.save:
        plan_diff.save(document, args.save)
        print(f"Saved the plan of {len(plans)} stack(s) to {args.save}", file=sys.stderr)
    policy = _policy_reports(captures, args.policy_config)
    if policy is None:
        return EXIT_CONFIG
    if args.format == "markdown":
        diffs = plan_diff.diff_documents(document, baseline)
        print(plan_report.render_markdown(diffs, describe, args.diff.name if args.diff else None, errors))
    elif args.diff:
        color = _use_color(args.color)
        texts = [
            plan_report.render_text(d, describe, args.diff.name, color)
            for d in plan_diff.diff_documents(document, baseline)
        ]
        if texts:
            print("\n\n".join(texts))
    elif captures:
        texts = [
            render_text(stack, captures[stack], [*capacities[stack], *_cost_lines(plans[stack].cost), policy[stack][0]])
            for stack in captures
        ]
        print("\n\n".join(texts))
    if args.render:
        for stack, capture in captures.items():
            out_dir = args.render if len(captures) == 1 else args.render / stack
            written = render_manifests(capture, out_dir)
            # A markdown comment on stdout stays clean: the note goes to stderr then.
            note = sys.stderr if args.format == "markdown" else sys.stdout
            print(f"Rendered {len(written)} Kubernetes objects to {out_dir}/", file=note)
    if args.format == "markdown" or args.diff:
        # The plan text carries the findings before its summary; diffs and comments get them last.
        for stack, (report, _) in policy.items():
            title = f"stack '{stack}': " if len(policy) > 1 else ""
            print(
                f"\n#### {title}policy findings\n\n```\n{report}\n```"
                if args.format == "markdown"
                else f"\n{title}{report}"
            )
    blocking = any(b for _, b in policy.values())
    return EXIT_CONFIG if errors else (EXIT_POLICY if blocking else 0)


def _estimate(config_map: dict[str, str], project_dir: Path) -> cost.CostEstimate | None:
    """The cost estimate; None for a --project-dir project that is not this program (no config of ours)."""
    if offline.project_name(project_dir) != offline.project_name():
        return None
    return cost.estimate(plan_diff.stack_config_of(config_map))


def _config_lines(config_map: dict[str, str], project_dir: Path) -> list[str]:
    """What the plan says from the config alone: HPAs that hold their replicas in some pod state,
    and nodes per GPU pool at minimum and maximum scale with the models that need them."""
    if offline.project_name(project_dir) != offline.project_name():
        return []
    cfg = plan_diff.stack_config_of(config_map)
    out: list[str] = []
    for section in (
        ["HPAs that hold their replicas:", *h] if (h := signal_paths.hold_lines(cfg)) else [],
        capacity.chain_lines(cfg),
        capacity.render_lines(cfg),
    ):
        if section:
            out += [*section, ""]
    return out


def _cost_lines(estimate: cost.CostEstimate | None) -> list[str]:
    return [*cost.render_lines(estimate), ""] if estimate is not None else []


def _policy_reports(captures: dict[str, Capture], config_file: Path | None) -> dict[str, tuple[str, bool]] | None:
    """Each stack's policy report and whether a finding is MANDATORY; None on a bad policy config."""
    from tooling import policy_check

    out = {}
    for stack, capture in captures.items():
        try:
            findings, report = policy_check.check_stack(capture, stack, config_file)
        except policy_check.PolicyConfigError as exc:
            print(f"error: policy config: {exc}", file=sys.stderr)
            return None
        out[stack] = (report, bool(policy_check.mandatory(findings)))
    return out


if __name__ == "__main__":
    sys.exit(main())
