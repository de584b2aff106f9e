"""The policy pack as a whole: its rules, its entry point, its pins, and its copy of the catalog."""

from __future__ import annotations

import re
import runpy
import sys

import pulumi_policy
import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from infra import catalog
from policies.rules import POLICIES, gpu
from tooling.offline import PROJECT_DIR

POLICY_DIR = PROJECT_DIR / "policies"
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
MANDATORY = {
    "gke-workload-identity",
    "gke-metadata-server",
    "gke-prod-private-nodes",
    "gke-prod-deletion-protection",
    "bucket-uniform-access",
    "bucket-public-access-prevention",
    "bucket-prod-versioning",
    "bucket-prod-soft-delete",
    "bucket-no-force-destroy",
    "iam-no-authoritative-project-iam",
    "iam-no-primitive-roles",
    "iam-no-public-members",
    "iam-no-service-account-keys",
    "k8s-security-context",
    "k8s-read-only-root",
    "k8s-service-account-token",
    "k8s-image-pinned",
    "k8s-prod-image-digest",
    "k8s-prod-load-balancer-opt-in",
    "k8s-prod-gateway-opt-in",
    "gke-prod-binary-authorization",
    "gcp-prod-flow-logs",
}


def test_the_pack_has_33_rules():
    assert len(POLICIES) == 33


def test_rule_names_are_unique_kebab_case():
    names = [p.name for p in POLICIES]
    assert len(set(names)) == len(names)
    assert all(KEBAB.match(n) for n in names), [n for n in names if not KEBAB.match(n)]


def test_every_rule_has_a_description_ending_in_a_period():
    assert all(p.description and p.description.endswith(".") for p in POLICIES)


def test_mandatory_is_exactly_the_security_and_data_loss_rules():
    assert {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.MANDATORY} == MANDATORY
    others = {p.enforcement_level for p in POLICIES if p.name not in MANDATORY}
    assert others == {EnforcementLevel.ADVISORY}


def test_three_stack_policies_and_the_rest_resource_policies():
    stack = [p.name for p in POLICIES if isinstance(p, StackValidationPolicy)]
    assert stack == ["gpu-stack-budget", "gpu-prod-on-demand-capacity", "gcp-prod-flow-logs"]
    assert all(isinstance(p, ResourceValidationPolicy | StackValidationPolicy) for p in POLICIES)


def test_every_config_property_has_a_default_and_a_description():
    for p in POLICIES:
        for key, spec in (p.config_schema.properties if p.config_schema else {}).items():
            assert "default" in spec and spec.get("description"), f"{p.name}.{key}"


def test_main_only_assembles_the_pack_from_the_rules(monkeypatch):
    """Runs policies/__main__.py as the CLI would (from policies/), with PolicyPack recorded instead of served."""
    built = {}

    class Recorder:
        def __init__(self, **kwargs):
            built.update(kwargs)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", Recorder)
    monkeypatch.syspath_prepend(str(POLICY_DIR))
    monkeypatch.chdir(POLICY_DIR)
    for name in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        runpy.run_path(str(POLICY_DIR / "__main__.py"), run_name="__main__")
    finally:
        for name in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
            del sys.modules[name]
    assert built["name"] == "gke-gpu-serving"
    assert [p.name for p in built["policies"]] == [p.name for p in POLICIES]


def test_pulumi_policy_yaml_runs_python():
    doc = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python"


def _pins(path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if "==" in line)


def test_pack_pins_the_same_pulumi_and_pulumi_policy_as_the_project():
    pack, project = _pins(POLICY_DIR / "requirements.txt"), _pins(PROJECT_DIR / "requirements.txt")
    assert pack["pulumi"] == project["pulumi"]
    assert pack["pulumi-policy"] == project["pulumi-policy"]


# The pack's copy of the accelerator facts -----------------------------------------------------


def test_machine_families_match_the_catalog():
    assert {name: acc.machine_family for name, acc in catalog.ACCELERATORS.items()} == gpu.ACCELERATOR_FAMILY


def test_shape_tables_match_the_catalog():
    assert gpu.G2_GPUS == catalog.G2_GPUS
    assert gpu.N1_MAX_VCPUS_FOR_T4 == catalog.N1_MAX_VCPUS_FOR_T4
    assert gpu.N1_SIZES == catalog._N1_SIZES
    assert catalog.ACCELERATORS[catalog.T4].counts == gpu.T4_COUNTS


MACHINES = [
    *(f"n1-{series}-{size}" for series in ("standard", "highmem", "highcpu") for size in (1, 2, 8, 32, 64, 96)),
    "n1-standard-3",
    *catalog.G2_GPUS,
    "g2-standard-2",
    "a2-highgpu-1g",
    "e2-standard-4",
]


@pytest.mark.parametrize("accelerator", sorted(catalog.ACCELERATORS))
@pytest.mark.parametrize("count", [1, 2, 3, 4, 8])
def test_pairing_verdicts_match_the_catalog(accelerator, count):
    """For every accelerator, count and machine shape: the pack rejects exactly what the config rules reject."""
    for machine in MACHINES:
        pack = gpu.pairing_problem(accelerator, machine, count) is not None
        config = catalog.check_pairing(accelerator, machine, count) is not None
        assert pack == config, (accelerator, machine, count)


def test_readme_rule_table_matches_the_pack():
    """README.md's Policy pack table lists every rule once, with its level."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme[readme.index("## Policy pack") :]
    section = section[: section.index("\n## ")]
    rows = re.findall(r"^\| `([a-z0-9-]+)`(?: \(stack\))? \| (mandatory|advisory) \|", section, re.M)
    assert sorted(rows) == sorted((p.name, p.enforcement_level.value) for p in POLICIES)


@pytest.mark.parametrize("text", ["500m", "4", "2.5", "16Gi", "512Mi", "1k", "3M", "1e3", "0.5Ki"])
def test_quantity_reader_matches_the_config_parser(text):
    # The pack keeps its own copy (it must not import infra/); the two may never disagree.
    from infra.config import parse_quantity
    from policies.rules import _props

    assert _props.quantity(text) == parse_quantity(text)
