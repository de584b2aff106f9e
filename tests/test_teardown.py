"""The teardown gate destroy.yml runs before `pulumi destroy`: allowed only on explicit consent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import teardown
from infra.teardown import FLAG_PATH


def _doc(deletion_protection=..., environment="dev", mode="standard") -> dict:
    cluster = {"mode": mode, "location": "us-central1-a"}
    if deletion_protection is not ...:
        cluster["deletionProtection"] = deletion_protection
    return {"config": {"gke-gpu-serving:environment": environment, "gke-gpu-serving:cluster": cluster}}


def test_example_stacks_dev_and_staging_may_be_destroyed_and_prod_may_not():
    decisions = {s: teardown.decide(s, teardown.load(s)) for s in ("dev", "staging", "prod")}
    assert {s: d.allowed for s, d in decisions.items()} == {"dev": True, "staging": True, "prod": False}


def test_prod_refusal_tells_the_operator_how_to_proceed_and_that_buckets_survive():
    reason = teardown.decide("prod", teardown.load("prod")).reason
    assert f"{FLAG_PATH} is true" in reason
    assert "set gke-gpu-serving:cluster.deletionProtection to false in Pulumi.prod.yaml" in reason
    assert "`pulumi up`" in reason and reason.index("`pulumi up`") < reason.index("destroy again")
    assert "buckets are protected and retained" in reason


@pytest.mark.parametrize("value", [True, "true", "yes", 0, None, ...])
def test_anything_but_an_explicit_false_is_refused(value):
    assert not teardown.decide("dev", _doc(value)).allowed


def test_an_unset_flag_is_refused_because_the_provider_defaults_it_to_true():
    assert "not set (the provider then defaults to true)" in teardown.decide("dev", _doc()).reason


@pytest.mark.parametrize("value", [False, "false", "False"])
def test_false_as_bool_or_as_the_string_config_set_writes_is_allowed(value):
    assert teardown.decide("dev", _doc(value)).allowed


def test_missing_cluster_or_config_section_is_refused():
    assert not teardown.decide("dev", {}).allowed
    assert not teardown.decide("dev", None).allowed
    assert not teardown.decide("dev", {"config": {"gke-gpu-serving:cluster": "oops"}}).allowed


def test_allowed_prod_destroy_says_protected_buckets_stay():
    decision = teardown.decide("prod", _doc(False, environment="prod"))
    assert decision.allowed and "buckets" in decision.reason and "stay" in decision.reason


def test_existing_cluster_mode_says_the_cluster_itself_is_never_deleted():
    decision = teardown.decide("dev", _doc(False, mode="existing"))
    assert decision.allowed and "never the cluster" in decision.reason


def test_confirmation_must_equal_the_stack_name_exactly():
    assert teardown.confirmation_problem("dev", "dev") is None
    assert teardown.confirmation_problem("dev", None) is None
    for typed in ("prod", "Dev", " dev", "dev ", ""):
        assert "does not match the stack name" in teardown.confirmation_problem("dev", typed)


def test_cli_exit_codes(capsys):
    assert teardown.main(["--stack", "dev"]) == teardown.EXIT_ALLOWED
    assert teardown.main(["--stack", "prod"]) == teardown.EXIT_REFUSED
    assert "refuses teardown" in capsys.readouterr().err
    assert teardown.main(["--stack", "dev", "--confirm", "prod"]) == teardown.EXIT_REFUSED
    assert teardown.main(["--stack", "nope"]) == teardown.EXIT_ERROR
    assert "known stacks: dev, prod, staging" in capsys.readouterr().err


def test_cli_rejects_a_stack_name_that_is_a_path():
    assert teardown.main(["--stack", "../etc/passwd"]) == teardown.EXIT_ERROR


def test_cli_reads_the_given_project_dir(tmp_path: Path):
    (tmp_path / "Pulumi.scratch.yaml").write_text(yaml.safe_dump(_doc(False)))
    assert teardown.main(["--stack", "scratch", "--project-dir", str(tmp_path)]) == teardown.EXIT_ALLOWED
    (tmp_path / "Pulumi.scratch.yaml").write_text(yaml.safe_dump(_doc(True)))
    assert teardown.main(["--stack", "scratch", "--project-dir", str(tmp_path)]) == teardown.EXIT_REFUSED
    (tmp_path / "Pulumi.scratch.yaml").write_text("- a list, not a stack file\n")
    assert teardown.main(["--stack", "scratch", "--project-dir", str(tmp_path)]) == teardown.EXIT_ERROR


def test_module_runs_as_the_workflow_calls_it_and_imports_no_pulumi():
    probe = "import sys, runpy; sys.argv=['x','--stack','prod']\ntry: runpy.run_module('infra.teardown', run_name='__main__')\nexcept SystemExit as e: print(e.code, 'pulumi' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=teardown.PROJECT_DIR
    )
    assert out.stdout.split() == ["1", "False"]
