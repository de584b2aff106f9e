"""How a plan diff reads: in a terminal, and as one pull-request comment.

Reviewers of an infrastructure change need three things in this order: what gets destroyed
and re-created (a GPU pool replaced drains every model on it), what it costs, and then the
rest. Both renderings put replacements first; the terminal one colours them red (ANSI only
when asked to, or when stdout is a terminal), and the markdown one opens with a stable hidden
marker so a workflow can find and edit its one comment, a summary table, then one collapsed
``<details>`` block per stack — hard-capped under GitHub's 65,536-character comment limit.
Values are shown as saved, so secrets appear only as ``[secret]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from tooling.cost import HOURS_PER_MONTH, CostEstimate, money, signed_money
from tooling.offline import Captured
from tooling.plan_diff import PropertyChange, ResourceChange, StackDiff

MARKER = "<!-- gke-gpu-serving-plan -->"
MARKDOWN_LIMIT = 60_000  # GitHub rejects comments over 65,536 characters; keep a margin.
VALUE_WIDTH = 72

Describe = Callable[[Captured], str]

_RED, _GREEN, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"
_SYMBOL = {"replace": "-/+", "update": "~", "create": "+", "delete": "-"}
_HEADINGS = {
    "replace": "Replacements (destroyed and re-created)",
    "update": "Updates in place",
    "create": "Creates",
    "delete": "Deletes",
}


def short_type(token: str) -> str:
    """``gcp:container/nodePool:NodePool`` -> ``gcp NodePool``."""
    return f"{token.split(':', 1)[0]} {token.rsplit(':', 1)[-1]}"


def show_value(value: Any, present: bool = True, width: int = VALUE_WIDTH) -> str:
    """A compact, single-line rendering of a property value, cut at ``width`` characters."""
    if not present:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _change_text(change: PropertyChange) -> str:
    tail = "  [forces replacement]" if change.replaces else ""
    return f"{change.path}: {show_value(change.old, change.old_present)} → {show_value(change.new, change.new_present)}{tail}"


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def cost_delta_line(diff: StackDiff) -> str | None:
    """``min $a → $b (+$d); max …`` for the stack, or None when there is no estimate."""
    new = diff.cost_new
    if new is None:
        return None
    delta = diff.monthly_delta
    if delta is None:
        return f"min {money(new.monthly_min)}, max {money(new.monthly_max)}"
    old_min = diff.cost_old.monthly_min if diff.cost_old else 0.0
    old_max = diff.cost_old.monthly_max if diff.cost_old else 0.0
    return (
        f"min {money(old_min)} → {money(new.monthly_min)} ({signed_money(delta[0])}); "
        f"max {money(old_max)} → {money(new.monthly_max)} ({signed_money(delta[1])})"
    )


def _summary_counts(diff: StackDiff) -> str:
    return (
        f"{diff.count('replace')} to replace, {diff.count('update')} to update, "
        f"{diff.count('create')} to create, {diff.count('delete')} to delete"
    )


def render_text(diff: StackDiff, describe: Describe, baseline_name: str, color: bool = False) -> str:
    """The diff of one stack for a terminal."""
    against = {
        "saved": f"against {baseline_name}",
        "missing": f"against {baseline_name}, which has no stack '{diff.stack}': everything is new",
        "none": "without a baseline",
    }[diff.baseline]
    lines = [f"Offline plan diff of stack '{diff.stack}' {against}", ""]
    for op in ("replace", "update", "create", "delete"):
        group = diff.of(op)
        if not group:
            continue
        heading = f"{_HEADINGS[op]}: {len(group)}"
        if op == "replace":
            heading = _paint(f"!! {heading} — review first", _BOLD + _RED, color)
        lines.append(heading)
        code = {"replace": _RED, "update": _YELLOW, "create": _GREEN, "delete": _RED}[op]
        for change in group:
            res = change.resource
            head = f"  {_SYMBOL[op]} {short_type(res.type)}  {res.name}"
            if op in ("create", "delete"):
                detail = describe(res.as_captured())
                head = f"{head}  {detail}" if detail else head
            lines.append(_paint(head, code, color))
            for prop in change.changes:
                text = f"      {_change_text(prop)}"
                lines.append(_paint(text, _RED, color) if prop.replaces else text)
        lines.append("")
    if not diff.changes:
        lines.extend(["No changes.", ""])
    cost = cost_delta_line(diff)
    if cost:
        lines.append(f"Cost (USD/month, {HOURS_PER_MONTH} h): {cost}")
    lines.append(f"Summary: {_summary_counts(diff)}.")
    return "\n".join(lines)


# --- Markdown ------------------------------------------------------------------------------------


def _md_code(text: str) -> str:
    """Inline code that survives backticks and table pipes in ``text``."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_change(change: PropertyChange) -> str:
    tail = " — **forces replacement**" if change.replaces else ""
    return (
        f"  - {_md_code(change.path)}: {_md_code(show_value(change.old, change.old_present))} → "
        f"{_md_code(show_value(change.new, change.new_present))}{tail}"
    )


def _md_resource(change: ResourceChange, describe: Describe) -> list[str]:
    res = change.resource
    head = f"- `{_SYMBOL[change.op]}` **{short_type(res.type)}** {_md_code(res.name)}"
    if change.op in ("create", "delete"):
        detail = describe(res.as_captured())
        if detail:
            head += f" — {_md_code(_clip(detail, 120))}"
    return [head, *(_md_change(c) for c in change.changes)]


def _md_cost_table(est: CostEstimate) -> list[str]:
    lines = [
        f"Cost estimate (USD, {est.region} list prices of {est.price_date}, month = {HOURS_PER_MONTH} h):",
        "",
        "| item | detail | min/month | max/month |",
        "| --- | --- | ---: | ---: |",
    ]
    for line in est.lines:
        lines.append(
            f"| {line.item} | {line.detail.replace('|', '/')} | {money(line.hourly_min * HOURS_PER_MONTH)} | "
            f"{money(line.hourly_max * HOURS_PER_MONTH)} |"
        )
    lines.append(f"| **total** | | **{money(est.monthly_min)}** | **{money(est.monthly_max)}** |")
    lines.extend(f"\n> unpriced: {item}" for item in est.unpriced)
    if est.notes:
        lines.append("")
        lines.extend(f"- {note}" for note in est.notes)
    return lines


def _details_body(diff: StackDiff, describe: Describe) -> list[str]:
    body: list[str] = []
    for op in ("replace", "update", "create", "delete"):
        group = diff.of(op)
        if not group:
            continue
        body.append(f"**{_HEADINGS[op]}** ({len(group)})")
        body.append("")
        for change in group:
            body.extend(_md_resource(change, describe))
        body.append("")
    if not diff.changes:
        body.extend(["No changes.", ""])
    if diff.cost_new is not None:
        body.extend(_md_cost_table(diff.cost_new))
    return body


def _fit(body: list[str], budget: int, stack: str) -> list[str]:
    """``body`` cut to ``budget`` characters at a line boundary, with a note saying so."""
    if sum(len(line) + 1 for line in body) <= budget:
        return body
    note = (
        f"… {{n}} more lines cut to keep this comment short; run "
        f"`python -m tooling.plan --stack {stack} --diff <base plan>` for all of them."
    )
    room = max(budget - len(note) - 16, 0)
    kept: list[str] = []
    used = 0
    for line in body:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    return [*kept, "", note.format(n=len(body) - len(kept))]


def _summary_row(diff: StackDiff) -> str:
    replace = diff.count("replace")
    replace_cell = f"**{replace}** :warning:" if replace else "0"
    cost_min = cost_max = delta_min = delta_max = "n/a"
    if diff.cost_new is not None:
        cost_min, cost_max = money(diff.cost_new.monthly_min), money(diff.cost_new.monthly_max)
        if not diff.cost_new.complete:
            cost_min, cost_max = f"{cost_min}*", f"{cost_max}*"
    delta = diff.monthly_delta
    if delta is not None:
        delta_min, delta_max = signed_money(delta[0]), signed_money(delta[1])
    return (
        f"| `{diff.stack}` | {diff.count('create')} | {diff.count('update')} | {replace_cell} | "
        f"{diff.count('delete')} | {cost_min} | {cost_max} | {delta_min} | {delta_max} |"
    )


def render_markdown(
    diffs: Sequence[StackDiff],
    describe: Describe,
    baseline_name: str | None,
    errors: dict[str, str] | None = None,
    limit: int = MARKDOWN_LIMIT,
) -> str:
    """One pull-request comment for all stacks: marker, summary, warnings, then details per stack."""
    errors = errors or {}
    title = "Offline plan diff" if baseline_name else "Offline plan"
    against = f" against `{baseline_name}`" if baseline_name else " (no baseline: every resource is new)"
    head = [
        MARKER,
        f"### {title}{against}",
        "",
        "| stack | create | update | replace | delete | min/month | max/month | Δ min | Δ max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    head.extend(_summary_row(d) for d in diffs)
    for stack in errors:
        head.append(f"| `{stack}` | config error | | | | | | | |")
    head.append("")
    warnings = []
    for d in diffs:
        replaced = d.of("replace")
        if replaced:
            names = ", ".join(
                f"{_md_code(short_type(c.resource.type) + ' ' + c.resource.name)} "
                f"({', '.join(sorted({p.split('[')[0] for p in c.replacing_paths}))})"
                for c in replaced[:5]
            )
            more = f" and {len(replaced) - 5} more" if len(replaced) > 5 else ""
            warnings.append(f"> :warning: **{d.stack}**: {len(replaced)} resource(s) will be REPLACED: {names}{more}")
        if d.baseline == "missing":
            warnings.append(f"> **{d.stack}** is not in the baseline plan: every resource is shown as new.")
    for stack, message in errors.items():
        first = message.strip().splitlines()[:6]
        warnings.append(f"> :x: **{stack}**: configuration error — " + " / ".join(_md_code(m) for m in first))
    if warnings:
        head.extend([*warnings, ""])
    if any(d.cost_new is not None and not d.cost_new.complete for d in diffs):
        head.extend(["\\* some items have no price in `tooling/data/prices.yaml`; totals omit them.", ""])
    footer = [
        "",
        "<sub>Offline plan: the Pulumi program run under mocks, no cloud calls; provider-computed values "
        "are placeholders and secret values are never shown. Replacement flags follow the providers' "
        "force-new fields (`tooling/plan_diff.py`). Prices: `tooling/data/prices.yaml`.</sub>",
    ]
    head_text = "\n".join(head)
    foot_text = "\n".join(footer)
    budget_total = limit - len(head_text) - len(foot_text) - 64
    sections = []
    per_stack = max(budget_total // max(len(diffs), 1), 0)
    for d in diffs:
        summary = f"<details><summary><b>{d.stack}</b>: {_summary_counts(d)}"
        cost = cost_delta_line(d)
        if cost:
            summary += f"; cost {cost}"
        summary += "</summary>"
        wrapper = [summary, ""]
        closing = ["", "</details>"]
        room = per_stack - sum(len(x) + 1 for x in wrapper + closing)
        sections.append("\n".join([*wrapper, *_fit(_details_body(d, describe), room, d.stack), *closing]))
    text = "\n\n".join([head_text, *sections, foot_text])
    if len(text) >= limit:  # the header alone is too long (hundreds of stacks): cut hard.
        cut = f"\n\n… cut at {limit} characters.\n"
        text = text[: limit - len(cut) - 1] + cut
    return text


__all__ = ["MARKDOWN_LIMIT", "MARKER", "render_markdown", "render_text", "short_type", "show_value"]
