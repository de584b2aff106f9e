"""The README's two opening commands stay true, and CI runs the same test command."""

from __future__ import annotations

import re

from tooling.offline import PROJECT_DIR

README = (PROJECT_DIR / "README.md").read_text()
COMMANDS = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
COMMAND_LINES = [line for line in COMMANDS.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_the_two_commands():
    assert README.lstrip().splitlines()[2] == "```bash"
    assert len(COMMAND_LINES) == 2


def test_first_command_sets_up_and_plans_dev_offline():
    assert COMMAND_LINES[0].startswith("python3 -m venv .venv && ")
    assert "-r requirements.txt" in COMMAND_LINES[0]
    assert COMMAND_LINES[0].endswith("python -m tooling.plan --stack dev")


def test_second_command_sets_up_and_runs_the_tests():
    assert "-r requirements-dev.txt" in COMMAND_LINES[1] and "pytest" in COMMAND_LINES[1]


def test_ci_runs_the_readme_test_command_verbatim():
    assert COMMAND_LINES[1] in (PROJECT_DIR / ".ci" / "run").read_text().splitlines()
