"""`detect bench` times our backends; torchvision beside them is refused, naming the peer tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import PROJECT
from support.tools import ENV, assert_one_line_error

DETECT = Path(sys.executable).with_name("detect")


def detect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DETECT), *args], cwd=PROJECT, env=ENV, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
@pytest.mark.parametrize("option", ["compare_torchvision=true", "weights=trained_like"])
def test_the_peer_options_are_refused_by_name(option):
    result = detect("bench", option, "images_dir=null")
    assert_one_line_error(result, option, "`python tools/bench.py", "from a checkout")


@pytest.mark.slow
def test_detect_bench_times_ours_alone(tmp_path):
    output = tmp_path / "bench.json"
    result = detect(
        "bench",
        "backbones=[v3_small]",
        "widths=[0.5]",
        "sizes=[160]",
        "images_dir=null",
        "runs=2",
        "warmup=1",
        f"output={output}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| ssdlite v3_small ×0.5 160 reduced tail [pytorch] | untrained" in result.stdout
    assert "floor: " in result.stdout and "torchvision" not in result.stdout
    report = json.loads(output.read_text())
    assert "comparison" not in report and report["rows"][0]["peak_gflops"] > 0
