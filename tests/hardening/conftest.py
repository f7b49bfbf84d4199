"""Issue 32's runtime cases: a command run in-process as a user types it, its exit code and
everything it printed."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

import pytest


def run_detect(capture: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``detect <args>`` in this process: (exit code, stdout + stderr), read through pytest's
    own capture."""
    from detect.cli.main import main

    _unstale_log_streams()
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


def _unstale_log_streams() -> None:
    """Point absl's log handlers at today's stderr. absl's handler (made when
    litert_torch is imported during collection) holds pytest's session capture stream; Hydra's
    logging set-up closes every handler ever made (logging._handlerList), and absl's close()
    closes any stream that is not the current sys.stderr/stdout: pytest would lose its own."""
    for ref in list(logging._handlerList):  # weak references to every handler, attached or not
        handler = ref()
        if type(handler).__module__.startswith("absl"):
            handler.stream = sys.stderr  # setStream would flush a closed one first
