"""A malformed stack file, or a structured key of the wrong shape, is one line naming the file or
the key and the fix, and the plan prints it without a traceback."""

from __future__ import annotations

import pytest

from infra import config
from tests.conftest import raw_with
from tests.test_config import NS, only_line_for
from tooling.offline import PROJECT_DIR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  gcp:project: [unclosed\n", "Pulumi.t.yaml, line 3, column 1: YAML syntax error"),
        ("config: just-a-string\n", "Pulumi.t.yaml: config: is a string, not a mapping"),
        ("- a list\n", "Pulumi.t.yaml: is a YAML list, not a mapping"),
    ],
)
def test_a_malformed_stack_file_is_one_line_naming_the_file_and_the_fix(tmp_path, text, expected):
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as info:
        config.read_stack_file(path)
    (line,) = info.value.lines
    assert line.startswith(expected) and ("fix" in line or "write" in line or "a stack file is" in line)


def test_a_structured_key_of_the_wrong_shape_names_the_key_and_the_fix():
    line = only_line_for(raw_with(cluster="oops"), f"{NS}:cluster")
    assert "is a string, not a mapping: write its settings as a YAML mapping" in line


def test_a_list_key_given_a_mapping_says_to_write_a_list():
    line = only_line_for(raw_with(gpuPools={"name": "t4"}), f"{NS}:gpuPools")
    assert "is a mapping, not a list" in line


def test_the_plan_prints_a_malformed_stack_file_without_a_traceback(tmp_path, capsys):
    from tooling import plan

    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.t.yaml").write_text("config: [\n")
    assert plan.main(["--stack", "t", "--project-dir", str(tmp_path)]) == plan.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Pulumi.t.yaml, line" in err
