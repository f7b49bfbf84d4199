"""The habits the test command enforces are the ones pre-commit runs before each commit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from support.paths import PROJECT

CONFIG = PROJECT / ".pre-commit-config.yaml"


def test_the_pre_commit_config_is_valid() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(CONFIG)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_hook_is_a_check_of_the_readme_test_command() -> None:
    readme = (PROJECT / "README.md").read_text()
    command = re.search(r"<!-- test-command.*?```bash\n(.*?)```", readme, re.S)
    assert command, "README.md has no test command"
    hooks = yaml.safe_load(CONFIG.read_text())["repos"][0]["hooks"]
    for hook in hooks:
        tool = hook["entry"].removeprefix("bash -c '").split()[0]
        assert tool in command.group(1), f"hook {hook['id']} runs {tool}, not in the test command"


def test_the_type_baseline_has_no_line_numbers() -> None:
    """Recorded without positions, so an edit above an old error does not make it 'new'."""
    lines = Path(PROJECT / "mypy-baseline.txt").read_text().splitlines()
    assert lines and all(re.match(r"^detect/\S+\.py:0: ", line) for line in lines)
