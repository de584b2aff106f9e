"""The teardown gate destroy.yml runs before `pulumi destroy`: allowed only on explicit consent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tooling import teardown
from tooling.teardown import FLAG_PATH


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
    doc = _doc(False, environment="prod")
    doc["config"]["gke-gpu-serving:storage"] = {"buckets": [{"name": "models"}]}
    decision = teardown.decide("prod", doc)
    assert decision.allowed
    assert "Bucket 'models': protected: skipped by pulumi destroy --exclude-protected" in decision.reason


def _with_bucket(environment: str, **bucket) -> dict:
    doc = _doc(False, environment=environment)
    doc["config"]["gke-gpu-serving:storage"] = {"buckets": [{"name": "models", **bucket}]}
    return doc


def test_a_bucket_neither_emptied_nor_kept_is_refused_because_destroy_would_stop_at_it():
    decision = teardown.decide("staging", _with_bucket("staging", retainOnDelete=False))
    assert not decision.allowed
    assert "bucket 'models' is deleted only if empty" in decision.reason
    assert "retainOnDelete true" in decision.reason


def test_staging_buckets_are_kept_by_default_so_its_destroy_can_finish():
    decision = teardown.decide("staging", _with_bucket("staging"))
    assert decision.allowed and "Bucket 'models': left in place with its objects" in decision.reason


def test_dev_force_destroy_bucket_goes_with_its_objects():
    decision = teardown.decide("dev", _with_bucket("dev", forceDestroy=True))
    assert decision.allowed and "Bucket 'models': deleted with every object in it" in decision.reason


def test_an_ip_kubeconfig_behind_authorized_networks_is_refused_from_hosted_runners():
    doc = _doc(False)
    doc["config"]["gke-gpu-serving:cluster"].update(
        kubeconfigEndpoint="ip", masterAuthorizedNetworks=[{"cidr": "10.0.0.0/8", "displayName": "vpn"}]
    )
    decision = teardown.decide("dev", doc)
    assert not decision.allowed and "LoadBalancer Services cannot be deleted" in decision.reason


def test_the_dns_endpoint_behind_authorized_networks_may_be_destroyed():
    doc = _doc(False)
    doc["config"]["gke-gpu-serving:cluster"].update(
        masterAuthorizedNetworks=[{"cidr": "10.0.0.0/8", "displayName": "vpn"}]
    )
    assert teardown.decide("dev", doc).allowed


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
    probe = "import sys, runpy; sys.argv=['x','--stack','prod']\ntry: runpy.run_module('tooling.teardown', run_name='__main__')\nexcept SystemExit as e: print(e.code, 'pulumi' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=teardown.PROJECT_DIR
    )
    assert out.stdout.split() == ["1", "False"]
