"""Saved plans, their diff, and the pull-request comment: offline, one invariant per test."""

from __future__ import annotations

import json
from functools import cache

import pytest

from tests.conftest import stack_capture
from tooling import cost, force_new, offline, plan, plan_diff, plan_report
from tooling.offline import SECRET_PLACEHOLDER, Captured
from tooling.plan_diff import PlanDocument, SavedResource, StackPlan

SECRET_ENVELOPE = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "hunter2"}


def _plan_of(stack: str, capture=None, config_map=None) -> StackPlan:
    config_map = config_map or offline.read_stack_config(stack)[0]
    capture = capture or stack_capture(stack)
    return plan_diff.snapshot(capture, cost.estimate(plan_diff.stack_config_of(config_map)))


def _doc(**plans: StackPlan) -> PlanDocument:
    return plan_diff.normalized(PlanDocument(stacks=plans))


@cache
def saved_examples() -> PlanDocument:
    return _doc(dev=_plan_of("dev"), staging=_plan_of("staging"), prod=_plan_of("prod"))


@cache
def prod_with_t4_on_n1_standard_16() -> PlanDocument:
    """The issue's must-show change: prod's T4 pool moves from n1-standard-8 to n1-standard-16."""
    config_map, secret_keys = offline.read_stack_config("prod")
    pools = json.loads(config_map["gke-gpu-serving:gpuPools"])
    t4 = next(p for p in pools if p["name"] == "t4")
    assert t4["machineType"] == "n1-standard-8"
    t4["machineType"] = "n1-standard-16"
    config_map = {**config_map, "gke-gpu-serving:gpuPools": json.dumps(pools)}
    capture = offline.run_program("prod", config_map, secret_keys)
    return _doc(prod=_plan_of("prod", capture, config_map))


@cache
def must_show_comment() -> str:
    diffs = plan_diff.diff_documents(prod_with_t4_on_n1_standard_16(), saved_examples())
    return plan_report.render_markdown(diffs, plan.describe, "base.json")


def _res(type_token="gcp:storage/bucket:Bucket", name="b", **inputs) -> SavedResource:
    return SavedResource(
        urn=f"urn:pulumi:s::p::{type_token}::{name}", type=type_token, name=name, custom=True, inputs=inputs
    )


# --- redaction ------------------------------------------------------------------------------


def test_redact_replaces_nested_secret_envelopes():
    assert plan_diff.redact({"a": [{"b": SECRET_ENVELOPE}]}) == {"a": [{"b": SECRET_PLACEHOLDER}]}


def test_kubernetes_secret_keeps_keys_not_values():
    res = Captured(
        urn="u",
        type="kubernetes:core/v1:Secret",
        name="hf",
        custom=True,
        inputs={"data": {"token": "aGY="}, "stringData": {"raw": "hf_x"}},
        parent="",
        provider="",
        protect=False,
        retain_on_delete=False,
        deleted_with="",
        depends_on=(),
        ignore_changes=(),
    )
    assert plan_diff.redact_inputs(res) == {"data": {"token": "[secret]"}, "stringData": {"raw": "[secret]"}}


def test_saved_plan_carries_no_kubeconfig_or_certificate(tmp_path):
    out = tmp_path / "plan.json"
    assert plan.main(["--stack", "prod", "--stack", "dev", "--save", str(out)]) == 0
    text = out.read_text()
    assert offline.FAKE_CA not in text and "certificate-authority-data" not in text and "kind: Config" not in text


def test_secret_outputs_are_saved_as_placeholders():
    assert saved_examples().stacks["prod"].outputs["kubeconfig"] == SECRET_PLACEHOLDER


# --- save / load ----------------------------------------------------------------------------------


def test_saved_plan_reads_back_equal(tmp_path):
    path = tmp_path / "p.json"
    plan_diff.save(saved_examples(), path)
    assert plan_diff.load(path) == saved_examples()


def test_saved_plan_has_version_and_cost_totals():
    raw = json.loads(plan_diff.dumps(saved_examples()))
    assert raw["version"] == 1 and raw["stacks"]["dev"]["cost_totals"]["monthly_max"] == 958.67


def test_plan_of_another_version_is_refused(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"version": 99, "stacks": {}}))
    with pytest.raises(plan_diff.PlanFileError, match="version 99"):
        plan_diff.load(path)


def test_unreadable_baseline_exits_2(tmp_path, capsys):
    assert plan.main(["--stack", "dev", "--diff", str(tmp_path / "missing.json")]) == 2
    assert "cannot read saved plan" in capsys.readouterr().err


# --- property paths and force-new -------------------------------------------------------------


def test_property_paths_use_pulumi_form():
    old = {"metadata": {"labels": {"app.kubernetes.io/name": "a"}}, "list": [1, 2]}
    new = {"metadata": {"labels": {"app.kubernetes.io/name": "b"}}, "list": [1]}
    assert [p for p, _, _ in plan_diff.property_changes(old, new)] == [
        "list[1]",
        'metadata.labels["app.kubernetes.io/name"]',
    ]


@pytest.mark.parametrize(
    ("type_token", "path", "replaces"),
    [
        ("gcp:container/nodePool:NodePool", "name", True),
        ("gcp:container/nodePool:NodePool", "nodeConfig.guestAccelerators[0].type", True),
        ("gcp:container/nodePool:NodePool", "nodeConfig.spot", True),
        ("gcp:container/nodePool:NodePool", "nodeConfig.machineType", False),
        ("gcp:container/nodePool:NodePool", "autoscaling.totalMaxNodeCount", False),
        ("gcp:container/cluster:Cluster", "location", True),
        ("gcp:container/cluster:Cluster", "deletionProtection", False),
        ("gcp:storage/bucket:Bucket", "location", True),
        ("gcp:storage/bucket:Bucket", "name", True),
        ("gcp:storage/bucket:Bucket", "versioning.enabled", False),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "role", True),
        ("kubernetes:apps/v1:DaemonSet", "metadata.namespace", True),
        ("kubernetes:apps/v1:DaemonSet", "spec.template.spec.containers[0].image", False),
    ],
)
def test_force_new_fields(type_token, path, replaces):
    assert force_new.forces_replacement(type_token, path) is replaces


def test_every_cloud_resource_type_of_the_examples_has_force_new_fields(any_stack):
    _, capture = any_stack
    types = {r.type for r in capture.resources if r.custom and r.type.startswith(("gcp:", "random:"))}
    missing = sorted(t for t in types if not force_new.force_new_paths(t))
    assert missing == [], f"add the provider's force-new fields of {missing} to FORCE_NEW in tooling/plan_diff.py"


def test_ignored_changes_are_not_reported():
    old = _res("gcp:container/nodePool:NodePool", initialNodeCount=1, location="us-central1")
    new = old.model_copy(
        update={"inputs": {"initialNodeCount": 2, "location": "us-central1"}, "ignore_changes": ("initialNodeCount",)}
    )
    assert plan_diff.resource_changes(old, new) == ()


def test_option_changes_are_reported():
    old = _res()
    new = old.model_copy(update={"protect": True})
    assert [c.path for c in plan_diff.resource_changes(old, new)] == ["[options].protect"]


# --- the diff ---------------------------------------------------------------------------------------


def test_identical_plans_have_no_changes():
    diffs = plan_diff.diff_documents(saved_examples(), saved_examples())
    assert [d.changes for d in diffs] == [(), (), ()]


def test_stack_missing_from_baseline_is_all_new():
    only_dev = _doc(dev=saved_examples().stacks["dev"])
    staging = next(d for d in plan_diff.diff_documents(saved_examples(), only_dev) if d.stack == "staging")
    custom = [r for r in saved_examples().stacks["staging"].resources if r.custom]
    assert (staging.baseline, staging.count("create"), len(staging.changes)) == ("missing", len(custom), len(custom))


def test_resource_gone_from_the_program_is_a_delete():
    old = StackPlan(resources=(_res(name="a"), _res(name="b")))
    new = StackPlan(resources=(_res(name="a"),))
    assert [(c.op, c.resource.name) for c in plan_diff.diff_stack("s", new, old, "saved").changes] == [("delete", "b")]


def test_replacements_sort_before_updates_and_creates():
    old = StackPlan(resources=(_res(name="a", location="US"), _res(name="b", storageClass="STANDARD")))
    new = StackPlan(resources=(_res(name="c"), _res(name="b", storageClass="NEARLINE"), _res(name="a", location="EU")))
    assert [c.op for c in plan_diff.diff_stack("s", new, old, "saved").changes] == ["replace", "update", "create"]


def test_machine_type_change_replaces_the_pool_through_its_name():
    prod = plan_diff.diff_documents(prod_with_t4_on_n1_standard_16(), saved_examples())[0]
    (replaced,) = prod.of("replace")
    assert (replaced.resource.name, replaced.replacing_paths) == ("gpu-t4", ("name",))


def test_machine_type_change_costs_the_hand_computed_delta():
    # (0.76 - 0.38) $/h x 730 h = $277.40 a node: x 2 nodes at minimum (the T4 models' minimum
    # replicas) = $554.80; x 6 nodes = $1,664.40
    prod = plan_diff.diff_documents(prod_with_t4_on_n1_standard_16(), saved_examples())[0]
    assert prod.monthly_delta == (554.80, 1664.40)


# --- the pull-request comment (the must-show) ----------------------------------------------


def test_comment_starts_with_the_marker():
    assert must_show_comment().splitlines()[0] == plan_report.MARKER


def test_comment_warns_of_the_replacement_before_any_details():
    text = must_show_comment()
    assert -1 < text.index("will be REPLACED: `gcp NodePool gpu-t4` (name)") < text.index("<details>")


def test_comment_shows_the_cost_delta_in_the_summary_row():
    row = next(line for line in must_show_comment().splitlines() if line.startswith("| `prod`"))
    assert row.endswith("| +$554.80 | +$1,664.40 |")


def test_comment_is_under_sixty_thousand_characters():
    assert len(must_show_comment()) < 60_000


def _capture_with_secret(value: str) -> offline.Capture:
    envelope = {**SECRET_ENVELOPE, "value": value}
    res = Captured(
        urn="urn:pulumi:s::p::pulumi:providers:kubernetes::k8s",
        type="pulumi:providers:kubernetes",
        name="k8s",
        custom=True,
        inputs={"kubeconfig": envelope},
        parent="",
        provider="",
        protect=False,
        retain_on_delete=False,
        deleted_with="",
        depends_on=(),
        ignore_changes=(),
    )
    return offline.Capture(resources=[res], outputs={"kubeconfig": value}, secret_outputs={"kubeconfig"})


def test_comment_never_shows_a_secret_value():
    old = _doc(s=plan_diff.snapshot(_capture_with_secret("old-token"), None))
    new = _doc(s=plan_diff.snapshot(_capture_with_secret("new-token"), None))
    text = plan_report.render_markdown(plan_diff.diff_documents(new, old), plan.describe, "base.json")
    assert "old-token" not in text and "new-token" not in text


def test_huge_diff_is_cut_per_stack_with_a_note():
    many = tuple(_res(name=f"bucket-{i:05d}", location="US") for i in range(3000))
    diffs = [plan_diff.diff_stack(s, StackPlan(resources=many), None, "missing") for s in ("dev", "prod")]
    text = plan_report.render_markdown(diffs, plan.describe, "base.json")
    assert len(text) < 60_000 and text.count("more lines cut to keep this comment short") == 2


# --- text rendering and the command ---------------------------------------------------------------


def _prod_diff_text(color: bool) -> str:
    prod = plan_diff.diff_documents(prod_with_t4_on_n1_standard_16(), saved_examples())[0]
    return plan_report.render_text(prod, plan.describe, "base.json", color=color)


def test_text_diff_is_red_only_when_asked():
    assert "\033[31m" in _prod_diff_text(color=True) and "\033" not in _prod_diff_text(color=False)


def test_text_diff_lists_the_replacement_first():
    lines = _prod_diff_text(color=False).splitlines()
    assert lines[2].startswith("!! Replacements") and 'name: "t4x1-n1s8" → "t4x1-n1s16"' in lines[4]


def test_diff_with_changes_exits_0(tmp_path, capsys):
    base = tmp_path / "base.json"
    plan_diff.save(_doc(prod=saved_examples().stacks["prod"]), base)
    assert plan.main(["--stack", "dev", "--diff", str(base)]) == 0
    assert "everything is new" in capsys.readouterr().out


def test_several_stacks_print_one_plan_each(capsys):
    assert plan.main(["--stack", "dev", "--stack", "staging"]) == 0
    assert capsys.readouterr().out.count("Offline plan of stack '") == 2


def test_plan_shows_the_cost_before_the_summary(capsys):
    plan.main(["--stack", "dev"])
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[-1].startswith("Summary: ") and any(line.startswith("  total: $0.7066/h") for line in lines)


def test_markdown_without_baseline_starts_with_the_marker(capsys):
    assert plan.main(["--stack", "dev", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith(plan_report.MARKER + "\n")
