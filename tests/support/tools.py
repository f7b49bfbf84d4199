"""Running a tool as a user does: ``python tools/<name>.py key=value …`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import cv2

from support.paths import PROJECT, TOOLS

ENV = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONUNBUFFERED": "1"}


def run_tool(
    tool: str,
    *overrides: str,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    check: bool = False,
    **options,
) -> subprocess.CompletedProcess:
    """``tools/<tool>`` (``.py`` optional) run from the project root; ``check``: assert that it
    exited 0, showing the end of its output if not. ``options`` go to ``subprocess.run``."""
    script = TOOLS / (tool if tool.endswith(".py") else f"{tool}.py")
    result = subprocess.run(
        [sys.executable, str(script), *overrides],
        cwd=PROJECT,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def assert_one_line_error(result: subprocess.CompletedProcess, *phrases: str) -> str:
    """The tool failed with exit code ≠ 0 and said why in one ``error:`` line — no traceback,
    no Hydra wrapping — containing every phrase; returns that line."""
    text = output(result)
    assert result.returncode != 0, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    assert "Error in call to target" not in text and "HYDRA_FULL_ERROR" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, text[-3000:]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


def reopen(path: Path) -> tuple[int, int, tuple[int, int]]:
    """(frame count from the container, frames actually decoded, (width, height))."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} does not open"
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    capture.release()
    return count, decoded, size
