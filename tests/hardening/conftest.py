"""Issue 32's runtime cases: a command run in-process as a user types it, its exit code and
everything it printed."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from support.logs import unstale_log_streams


def run_detect(capture: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``detect <args>`` in this process: (exit code, stdout + stderr), read through pytest's
    own capture."""
    from detect.cli.main import main

    unstale_log_streams()  # after capfd took sys.stderr: absl must see it as the current one
    capture.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    printed = capture.readouterr()
    return code, printed.out + printed.err


def one_error_line(code: int, text: str, *phrases: str) -> str:
    """The command failed with one ``error:`` line holding every phrase, and no traceback."""
    assert code != 0, text[-2000:]
    assert "Traceback" not in text and "Error executing job" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, text[-3000:]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def detect_cli(capfd: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    return functools.partial(run_detect, capfd)
