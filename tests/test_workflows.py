"""The GitHub Actions workflows keep the properties that make them safe to run.

Each test is one invariant, read from the parsed YAML (or, for pins, the raw lines), so a
careless edit to a workflow fails here with the rule it broke. The schema check and the zizmor
audit also run in .ci/run; they are repeated here because they take well under a second.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tooling.plan_report import MARKER
from tooling.teardown import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
STACKS = ["dev", "staging", "prod"]
GOOGLE_AUTH = "google-github-actions/auth"
PULUMI_ACTION = "pulumi/actions"


def _load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


WF = {p.name: _load(p) for p in FILES}


def _jobs():
    for name, wf in WF.items():
        for job_id, job in wf["jobs"].items():
            yield name, job_id, job


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def _tool(name: str) -> str:
    """A tool from requirements-dev.txt, installed next to this interpreter (.venv/bin)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -r requirements-dev.txt"
    return found


def test_the_four_workflows_exist():
    assert set(WF) == {"preview.yml", "preview-comment.yml", "deploy.yml", "destroy.yml"}


@pytest.mark.parametrize("name", sorted(WF))
def test_top_level_permissions_are_empty(name):
    assert WF[name]["permissions"] == {}


def test_every_job_declares_its_own_permissions():
    missing = [f"{n}:{j}" for n, j, job in _jobs() if not isinstance(job.get("permissions"), dict)]
    assert missing == []


def test_no_job_asks_for_write_access_it_does_not_use():
    allowed = {"contents": {"read"}, "id-token": {"write"}, "actions": {"read"}, "pull-requests": {"write"}}
    for name, job_id, job in _jobs():
        for scope, level in job["permissions"].items():
            assert level in allowed.get(scope, set()), f"{name}:{job_id} {scope}: {level}"
    writers = [f"{n}:{j}" for n, j, job in _jobs() if job["permissions"].get("pull-requests") == "write"]
    assert writers == ["preview-comment.yml:comment"]


def test_id_token_is_granted_exactly_where_google_auth_happens():
    for name, job_id, job in _jobs():
        authenticates = bool(_uses(job, GOOGLE_AUTH))
        assert (job["permissions"].get("id-token") == "write") == authenticates, f"{name}:{job_id}"


def test_no_workflow_uses_repository_secrets():
    """Google auth is keyless (WIF) and stack secrets are KMS-encrypted in Pulumi config."""
    for path in FILES:
        assert "secrets." not in path.read_text(), path.name


def test_fork_pull_request_job_gets_no_credential_and_runs_no_cloud_step():
    plan = WF["preview.yml"]["jobs"]["plan"]
    assert plan["permissions"] == {"contents": "read"}
    assert "if" not in plan  # it runs for every pull request, forks included
    text = yaml.safe_dump(plan)
    assert "secrets." not in text and GOOGLE_AUTH not in text and PULUMI_ACTION not in text


def test_cloud_preview_runs_only_for_same_repository_branches():
    job = WF["preview.yml"]["jobs"]["cloud-preview"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
    assert job["strategy"]["matrix"]["stack"] == STACKS
    (step,) = _uses(job, PULUMI_ACTION)
    assert step["with"]["command"] == "preview" and step["with"]["diff"] is True
    assert "comment-on-pr" not in step["with"]  # the one PR comment is preview-comment.yml's


def test_preview_triggers_only_on_pull_request():
    assert set(WF["preview.yml"]["on"]) == {"pull_request"}


def test_preview_plans_every_stack_at_the_base_commit_and_diffs_against_it():
    plan = WF["preview.yml"]["jobs"]["plan"]
    checkouts = _uses(plan, "actions/checkout")
    assert [c["with"].get("ref") for c in checkouts] == [None, "${{ github.event.pull_request.base.sha }}"]
    script = "\n".join(s.get("run", "") for s in plan["steps"])
    stacks = " ".join(f"--stack {s}" for s in STACKS)
    # The base commit may predate the plan CLI's move to tooling/: it runs whichever it has.
    assert "plan=tooling.plan\n[ -f tooling/plan.py ] || plan=infra.plan" in script
    assert f'-m "$plan" {stacks} --save' in script
    assert f"tooling.plan {stacks} \\\n    --diff" in re.sub(r"\n\s+", "\n    ", script)
    assert "--format markdown" in script and MARKER in script


def test_comment_poster_never_runs_pull_request_code():
    wf = WF["preview-comment.yml"]
    assert wf["on"] == {"workflow_run": {"workflows": [WF["preview.yml"]["name"]], "types": ["completed"]}}
    (job,) = wf["jobs"].values()
    assert not _uses(job, "actions/checkout") and not _uses(job, "actions/setup-python")
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "pip " not in script and "python" not in script
    assert "github-actions[bot]" in script and MARKER in script and "--method PATCH" in script


def test_comment_poster_trusts_the_artifacts_pr_number_only_for_the_previewed_commit():
    (job,) = WF["preview-comment.yml"]["jobs"].values()
    step = next(s for s in job["steps"] if "run" in s)
    assert step["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert '"$pr_head" != "$HEAD_SHA"' in step["run"]


def test_both_preview_workflows_use_the_marker_the_plan_cli_prints():
    """The poster finds and edits its comment by this marker; drift would make it repeat."""
    for name in ("preview.yml", "preview-comment.yml"):
        assert re.findall(r"marker='([^']*)'", (WORKFLOWS / name).read_text()) == [MARKER], name


def test_comment_artifact_names_match_between_the_two_workflows():
    (upload,) = _uses(WF["preview.yml"]["jobs"]["plan"], "actions/upload-artifact")
    (download,) = _uses(next(iter(WF["preview-comment.yml"]["jobs"].values())), "actions/download-artifact")
    assert upload["with"]["name"] == download["with"]["name"]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


def test_deploy_runs_on_push_to_main_only():
    assert WF["deploy.yml"]["on"] == {"push": {"branches": ["main"]}}


def test_deploy_chains_dev_staging_prod():
    jobs = WF["deploy.yml"]["jobs"]
    assert list(jobs) == STACKS
    assert [jobs[s].get("needs") for s in STACKS] == [None, "dev", "staging"]


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_job_is_bound_to_its_environment_and_never_overlaps(stack):
    job = WF["deploy.yml"]["jobs"][stack]
    assert job["environment"] == stack
    assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
    (step,) = _uses(job, PULUMI_ACTION)
    assert step["with"]["command"] == "up" and step["with"]["stack-name"] == stack


def test_destroy_is_manual_with_a_stack_choice_and_a_typed_confirmation():
    inputs = WF["destroy.yml"]["on"]["workflow_dispatch"]["inputs"]
    assert set(WF["destroy.yml"]["on"]) == {"workflow_dispatch"}
    assert inputs["stack"]["type"] == "choice" and inputs["stack"]["options"] == STACKS
    assert inputs["confirm"]["type"] == "string" and inputs["confirm"]["required"] is True


def test_destroy_runs_the_teardown_gate_with_the_confirmation_before_any_credential():
    jobs = WF["destroy.yml"]["jobs"]
    gate = jobs["gate"]
    assert gate["permissions"] == {"contents": "read"}
    step = next(s for s in gate["steps"] if "tooling.teardown" in s.get("run", ""))
    assert '-m tooling.teardown --stack "$STACK" --confirm "$CONFIRM"' in step["run"]
    assert step["env"] == {"STACK": "${{ inputs.stack }}", "CONFIRM": "${{ inputs.confirm }}"}
    assert jobs["destroy"]["needs"] == "gate"


def test_destroy_job_shares_the_deploy_lock_and_keeps_protected_resources():
    job = WF["destroy.yml"]["jobs"]["destroy"]
    assert job["environment"] == "${{ inputs.stack }}"
    assert job["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    (step,) = _uses(job, PULUMI_ACTION)
    assert step["with"]["command"] == "destroy" and step["with"]["exclude-protected"] is True


def test_every_uses_is_pinned_to_a_commit_with_its_release_named():
    pattern = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
    for path in FILES:
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(- )?uses:", line):
                assert pattern.match(line), f"{path.name}: {line.strip()}"


def test_one_commit_per_action_across_all_workflows():
    pins: dict[str, set[str]] = {}
    for path in FILES:
        for action, sha in re.findall(r"uses: ([\w./-]+)@([0-9a-f]{40})", path.read_text()):
            pins.setdefault(action, set()).add(sha)
    assert {a: len(s) for a, s in pins.items() if len(s) > 1} == {}


def test_every_checkout_drops_its_credentials():
    for name, job_id, job in _jobs():
        for step in _uses(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, f"{name}:{job_id}"


def test_no_expression_is_expanded_inside_a_shell_script():
    """Template injection: values reach `run:` only through `env:`."""
    for name, job_id, job in _jobs():
        for step in job.get("steps", []):
            assert "${{" not in step.get("run", ""), f"{name}:{job_id}: {step.get('name')}"


def test_pulumi_cli_version_is_pinned_to_the_sdk_in_requirements():
    sdk = re.search(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M).group(1)
    steps = [s for _, _, job in _jobs() for s in _uses(job, PULUMI_ACTION)]
    assert steps and {s["with"]["pulumi-version"] for s in steps} == {sdk}


def test_pulumi_steps_use_the_policy_pack_and_the_backend_from_variables():
    for name, job_id, job in _jobs():
        for step in _uses(job, PULUMI_ACTION):
            assert step["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", f"{name}:{job_id}"
            if step["with"]["command"] in ("preview", "up"):
                assert step["with"]["policyPacks"] == "policies", f"{name}:{job_id}"


def test_pulumi_steps_pass_the_stacks_policy_config_where_one_exists():
    """A waiver in policies/config/<stack>.json must reach the CLI too, not only the offline plan."""
    configs = {p.stem for p in (PROJECT_DIR / "policies" / "config").glob("*.json")}
    for name, job_id, job in _jobs():
        for step in _uses(job, PULUMI_ACTION):
            if step["with"]["command"] not in ("preview", "up"):
                continue
            stack, given = step["with"]["stack-name"], step["with"].get("policyPackConfigs", "")
            expected = [s for s in sorted(configs) if stack in (s, "${{ matrix.stack }}")]
            assert all(f"policies/config/{s}.json" in given for s in expected), f"{name}:{job_id}"


def test_google_auth_is_configured_from_variables_and_the_auth_plugin_is_installed():
    for name, job_id, job in _jobs():
        for step in _uses(job, GOOGLE_AUTH):
            assert set(step["with"]) == {"workload_identity_provider", "service_account"}
            assert all(v.startswith("${{ vars.") for v in step["with"].values()), f"{name}:{job_id}"
            (gcloud,) = _uses(job, "google-github-actions/setup-gcloud")
            assert gcloud["with"]["install_components"] == "gke-gcloud-auth-plugin"
    assert not any("gs://" in yaml.safe_dump(wf) for wf in WF.values())  # comments aside


def test_python_version_matches_the_projects_target():
    target = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    versions = {s["with"]["python-version"] for _, _, job in _jobs() for s in _uses(job, "actions/setup-python")}
    assert versions == {f"{target[2]}.{target[3:]}"}


def test_zizmor_config_ignores_only_the_reviewed_workflow_run_trigger():
    config = yaml.safe_load((PROJECT_DIR / ".github" / "zizmor.yml").read_text())["rules"]
    ignores = {rule: body["ignore"] for rule, body in config.items() if "ignore" in body}
    assert ignores == {"dangerous-triggers": ["preview-comment.yml"]}
    assert config["unpinned-uses"]["config"]["policies"] == {"*": "hash-pin"}


def test_workflows_validate_against_the_github_workflow_schema():
    run = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  j:\n    steps: [{run: echo}]\n")  # no runs-on
    run = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)], capture_output=True
    )
    assert run.returncode != 0


def test_zizmor_reports_nothing_of_medium_severity_or_higher():
    run = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_zizmor_with_our_config_flags_a_tag_pinned_action(tmp_path):
    """The audit above is not vacuous: the same config fails a workflow pinned by tag."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / ".github" / "zizmor.yml", tmp_path / ".github" / "zizmor.yml")
    text = (WORKFLOWS / "deploy.yml").read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v6", text)
    (tmp_path / ".github" / "workflows" / "deploy.yml").write_text(text)
    run = subprocess.run(
        [_tool("zizmor"), "--offline", "--min-severity", "medium", str(tmp_path / ".github" / "workflows")],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "unpinned-uses" in run.stdout + run.stderr
