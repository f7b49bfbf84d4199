"""The import-linter contracts (pyproject.toml) hold, and a reverse import breaks them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import PROJECT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` over the ``detect`` and ``benchmarks`` packages found at ``root``."""
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and their contracts, copied so that a test can break them."""
    root = tmp_path_factory.mktemp("layering")
    for package in ("detect", "benchmarks"):
        ignore = shutil.ignore_patterns("__py*")
        shutil.copytree(PROJECT / package, root / package, ignore=ignore)
    shutil.copy(PROJECT / "pyproject.toml", root)
    return root


def test_the_contracts_hold(copy):
    result = lint(copy)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("models/anchors.py", "import detect.cli", "detect is layered"),
        ("data/coco.py", "from detect.evaluation import cost", "detect is layered"),
        ("models/loss.py", "import lightning", "only training needs Lightning"),
        ("evaluation/evaluate.py", "import detect.data.datamodule", "only training needs"),
        ("inference/stream.py", "import hydra", "only the tool wiring"),
        ("export/runtime.py", "import torch", "the deployment runtime"),
        ("evaluation/bench.py", "import benchmarks.twins", "detect never imports the peer"),
    ],
)
def test_a_reverse_import_breaks_its_contract(copy, module, line, contract):
    path = copy / "detect" / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # a reverse import\n")
        result = lint(copy)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    # a reverse import between subpackages may also close a cycle: then the no-cycles contract
    # breaks beside the one named, and no other
    assert re.search(r"Contracts: \d+ kept, [12] broken", result.stdout), result.stdout[-2000:]
    if "2 broken" in result.stdout:
        assert "no import cycles" in result.stdout.split("Broken contracts")[1]
    report = result.stdout.split("Broken contracts")[1]  # the broken one is named first
    assert report.split("\n", 4)[3].startswith(contract), report[:500]
    assert line.split()[-1] in report  # the offending import is shown
