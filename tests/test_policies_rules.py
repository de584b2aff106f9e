"""Every rule of the policy pack, both ways, and with preview-time unknowns.

Each rule gets a happy-path resource that passes, one-field changes that fail with the exact
message, and the same resource with a value unknown at preview, which must neither raise nor
report. Resources go through ``tooling.policy_check.engine_view`` (protobuf ``Struct`` and
pulumi-policy's unknown-checking proxy, as the analyzer builds them) into the policy's real
``validate`` with real ``ResourceValidationArgs``. No test constructs ``PolicyPack``.

The rows are by domain, each file with the details its tables cannot show:
``tests/test_policies_rules_gke.py`` (GKE, GPU node pools),
``tests/test_policies_rules_storage_iam.py`` (buckets, IAM) and
``tests/test_policies_rules_kubernetes.py`` (pods, HPAs, Services, Gateways). The stack policies
are ``tests/test_policies_rules_stack.py``; the shared resources and helpers are
``tests/policy_harness.py``.
"""

from __future__ import annotations

import pytest

from tests import test_policies_rules_gke as gke_rows
from tests import test_policies_rules_kubernetes as k8s_rows
from tests import test_policies_rules_storage_iam as storage_iam_rows
from tests.policy_harness import changed, violations

# (policy, type, happy-path props)
HAPPY = [*gke_rows.HAPPY, *storage_iam_rows.HAPPY, *k8s_rows.HAPPY]
# (policy, type, props, path, new value, exact message)
FAILS = [*gke_rows.FAILS, *storage_iam_rows.FAILS, *k8s_rows.FAILS]
# (policy, type, props, path) whose value becomes unknown at preview; the sentinel fits the field.
UNKNOWNS = [*gke_rows.UNKNOWNS, *storage_iam_rows.UNKNOWNS, *k8s_rows.UNKNOWNS]
# Resources that fail the rule unless the unknown value (their environment or namespace) is what
# keeps the rule from deciding.
FAILING_OTHERWISE = {
    **gke_rows.FAILING_OTHERWISE,
    **storage_iam_rows.FAILING_OTHERWISE,
    **k8s_rows.FAILING_OTHERWISE,
}


@pytest.mark.parametrize(("policy", "type_token", "props"), HAPPY, ids=lambda v: getattr(v, "name", None))
def test_happy_path_passes(policy, type_token, props):
    assert violations(policy, type_token, props) == []


@pytest.mark.parametrize(
    ("policy", "type_token", "props", "path", "value", "message"),
    FAILS,
    ids=[f"{f[0].name}:{'.'.join(map(str, f[3]))}" for f in FAILS],
)
def test_one_field_change_fails_with_the_exact_message(policy, type_token, props, path, value, message):
    assert violations(policy, type_token, changed(props, path, value)) == [message]


@pytest.mark.parametrize(
    ("policy", "type_token", "props", "path", "sentinel"),
    UNKNOWNS,
    ids=[f"{u[0].name}:{'.'.join(map(str, u[3]))}" for u in UNKNOWNS],
)
def test_unknown_preview_value_neither_raises_nor_reports(policy, type_token, props, path, sentinel):
    """No exception, no violation. Where the unknown is an environment label or namespace rather
    than the deciding field, the rest of the resource fails the rule (FAILING_OTHERWISE), so only
    the unknown keeps it quiet."""
    failing = FAILING_OTHERWISE.get((policy.name, path), props)
    assert violations(policy, type_token, changed(failing, path, sentinel)) == []


def test_a_failing_variant_really_fails():
    """The variants above fail when nothing is unknown (else the unknown tests prove nothing)."""
    policies = {p.name: (p, t) for p, t, _ in HAPPY}
    for (name, _path), props in FAILING_OTHERWISE.items():
        policy, type_token = policies[name]
        assert violations(policy, type_token, props), name


def test_every_rule_has_a_failing_case_and_an_unknown_case():
    resource_rules = {p.name for p, _, _ in HAPPY}
    failing = {f[0].name for f in FAILS}
    unknown = {u[0].name for u in UNKNOWNS}
    # Tested by resource type alone, in tests/test_policies_rules_storage_iam.py.
    type_only = {"iam-no-authoritative-project-iam", "iam-no-service-account-keys"}
    assert resource_rules - type_only <= failing
    assert resource_rules - type_only <= unknown
