"""The pack run offline (tooling/policy_check.py): example stacks, the bad fixture, policy config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import cache

import pytest
from pulumi_policy import EnforcementLevel

from tests.conftest import STACKS, stack_capture
from tooling import offline, policy_check
from tooling.offline import PROJECT_DIR

BAD_PROJECT = PROJECT_DIR / "tests" / "fixtures" / "policy_bad"
BAD_LINES = [
    "[bucket-public-access-prevention] Bucket public-models: publicAccessPrevention is inherited: a grant to "
    "allUsers would make the models public; set publicAccessPrevention to enforced",
    "[iam-no-authoritative-project-iam] IAMBinding storage-admins: authoritative IAM (IAMBinding/IAMPolicy) on a "
    "project, folder or organization removes every holder it does not list, including Google-managed service "
    "agents; grant with IAMMember instead",
    "[iam-no-public-members] BucketIAMMember public-read: grants roles/storage.objectViewer to allUsers: anyone on "
    "the internet gets it; remove the member",
    "[k8s-image-pinned] Deployment latest-in-prod: container 'server' image vllm/vllm-openai:latest is tagged "
    "latest in prod; pin a version tag or a digest",
    "[k8s-prod-image-digest] Deployment latest-in-prod: container 'server' image vllm/vllm-openai:latest is not "
    "pinned by digest in prod: a tag can be moved to other content; pin it as vllm/vllm-openai@sha256:<digest> "
    "(crane digest vllm/vllm-openai:latest), or list vllm/vllm-openai in tagAllowed",
    "[gpu-pool-taint] NodePool gpu-no-taint: GPU pool has no nvidia.com/gpu NO_SCHEDULE taint: GKE adds it only "
    "when a non-GPU pool already exists, and without it CPU pods land on (and keep awake) GPU nodes; add "
    "nodeConfig.taints [{key: nvidia.com/gpu, value: present, effect: NO_SCHEDULE}]",
]


@cache
def bad_capture() -> offline.Capture:
    return offline.run_stack("bad", BAD_PROJECT)


@cache
def findings_of(stack: str) -> tuple[policy_check.Finding, ...]:
    path = policy_check.default_config_path(stack)
    config = policy_check.read_config_file(path) if path.exists() else {}
    return tuple(policy_check.evaluate(stack_capture(stack), config))


# Example stacks --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_example_stack_has_no_mandatory_violation(stack):
    assert [f.line() for f in policy_check.mandatory(findings_of(stack))] == []


def _comments(stack: str) -> str:
    text = offline.stack_file(stack).read_text()
    return "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))


@pytest.mark.parametrize("stack", STACKS)
def test_every_advisory_finding_is_explained_in_the_stack_file(stack):
    """An accepted ADVISORY finding names its rule in a comment of Pulumi.<stack>.yaml, with the reason."""
    comments = _comments(stack)
    unexplained = [f.line() for f in findings_of(stack) if f.policy not in comments]
    assert unexplained == []


# The deliberately bad project -------------------------------------------------------------------


def test_bad_project_reports_one_line_per_violation():
    findings = policy_check.evaluate(bad_capture())
    assert sorted(f.line() for f in findings) == sorted(BAD_LINES)


def test_bad_project_violations_are_mandatory_except_the_missing_taint():
    levels = {f.policy: f.level for f in policy_check.evaluate(bad_capture())}
    assert [p for p, level in levels.items() if level == EnforcementLevel.ADVISORY] == ["gpu-pool-taint"]


def test_plan_of_the_bad_project_prints_the_findings_and_exits_3():
    result = subprocess.run(
        [sys.executable, "-m", "tooling.plan", "--stack", "bad", "--project-dir", "tests/fixtures/policy_bad"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    section = result.stdout[result.stdout.index("Policy findings") :]
    assert re.search(r"^  mandatory \(5\):$", section, re.M) and re.search(r"^  advisory \(1\):$", section, re.M)
    printed = [line.strip() for line in section.splitlines() if line.startswith("    [")]
    assert sorted(printed) == sorted(BAD_LINES)


def test_downgrading_every_rule_to_advisory_lets_the_bad_plan_pass(tmp_path):
    config = tmp_path / "advisory.json"
    config.write_text(json.dumps({"all": "advisory"}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tooling.plan",
            "--stack",
            "bad",
            "--project-dir",
            str(BAD_PROJECT),
            "--policy-config",
            str(config),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "advisory (6):" in result.stdout


# Policy config, as `pulumi preview --policy-pack-config` reads it -----------------------------


def resolved(config: dict) -> dict[str, policy_check.RuleConfig]:
    return policy_check.resolve_config(policy_check.load_policies(), config)


def test_defaults_come_from_each_rules_schema():
    rc = resolved({})["gpu-pool-bounded-autoscaling"]
    assert rc.level == EnforcementLevel.ADVISORY and rc.properties == {"maxNodes": 8}


def test_a_string_sets_the_level_and_keeps_the_defaults():
    rc = resolved({"gpu-pool-bounded-autoscaling": "mandatory"})["gpu-pool-bounded-autoscaling"]
    assert rc.level == EnforcementLevel.MANDATORY and rc.properties == {"maxNodes": 8}


def test_an_object_merges_properties_over_the_defaults():
    rc = resolved({"bucket-prod-soft-delete": {"minRetentionDays": 30}})["bucket-prod-soft-delete"]
    assert rc.level == EnforcementLevel.MANDATORY
    assert rc.properties == {"environments": ["prod"], "minRetentionDays": 30}


def test_all_sets_every_level_and_a_rule_can_override_it():
    config = resolved({"all": "advisory", "k8s-image-pinned": {"enforcementLevel": "mandatory"}})
    assert {rc.level for name, rc in config.items() if name != "k8s-image-pinned"} == {EnforcementLevel.ADVISORY}
    assert config["k8s-image-pinned"].level == EnforcementLevel.MANDATORY


def test_a_disabled_rule_reports_nothing():
    assert policy_check.evaluate(bad_capture(), {"gpu-pool-taint": "disabled"})
    assert all(
        f.policy != "gpu-pool-taint" for f in policy_check.evaluate(bad_capture(), {"gpu-pool-taint": "disabled"})
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"gpu-pool-tain": "advisory"}, "gpu-pool-tain: no such policy in the pack (33 policies)"),
        ({"gpu-pool-taint": "blocking"}, "gpu-pool-taint: 'blocking' is not an enforcement level"),
        ({"gpu-pool-bounded-autoscaling": {"maxnodes": 4}}, "gpu-pool-bounded-autoscaling.maxnodes: not a setting"),
        (
            {"gpu-pool-bounded-autoscaling": {"maxNodes": "4"}},
            "gpu-pool-bounded-autoscaling.maxNodes: '4' is not of type integer",
        ),
    ],
)
def test_a_config_the_pack_cannot_use_is_an_error(config, message):
    with pytest.raises(policy_check.PolicyConfigError, match=re.escape(message)):
        resolved(config)


def test_config_files_in_policies_config_are_valid():
    for path in sorted((PROJECT_DIR / "policies" / "config").glob("*.json")):
        resolved(policy_check.read_config_file(path))


def test_report_groups_by_level_with_mandatory_first():
    text = policy_check.render(policy_check.evaluate(bad_capture()), 33, "rule defaults")
    lines = text.splitlines()
    assert lines[0] == "Policy findings (pack policies/, 33 policies, config: rule defaults):"
    assert lines.index("  mandatory (5):") < lines.index("  advisory (1):")


def test_report_without_findings_says_none():
    assert policy_check.render([], 33, "rule defaults").endswith(": none")


def test_stack_findings_name_the_stack():
    budget = {"gpu-stack-budget": {"budgets": {"prod": 1}}}
    findings = policy_check.evaluate(bad_capture(), budget)
    stack_level = [f for f in findings if f.policy == "gpu-stack-budget"]
    assert [(f.resource, f.message) for f in stack_level] == [
        (
            "(stack)",
            "GPU pools of prod can scale to 2 GPUs (t4x1-n1s8 2), above its budget of 1; lower maxNodes or "
            "raise budgets.prod in the policy config",
        )
    ]
