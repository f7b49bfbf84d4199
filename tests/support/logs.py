"""Log handlers that outlive pytest's capture streams."""

from __future__ import annotations

import logging
import sys


def unstale_log_streams() -> None:
    """Point absl's log handlers, and any stream handler left on a closed stream, at today's
    stderr. A handler made in an earlier test (``detect serve``'s, run in-process) holds that
    test's capture stream, closed since: its next line would be a logging error. absl's handler
    (made when litert_torch is imported during collection) holds pytest's session capture
    stream; Hydra's logging set-up closes every handler ever made (logging._handlerList), and
    absl's close() closes any stream that is not the current sys.stderr/stdout: pytest would lose
    its own."""
    for ref in list(logging._handlerList):  # weak references to every handler, attached or not
        handler = ref()
        if type(handler).__module__.startswith("absl"):
            handler.stream = sys.stderr  # setStream would flush a closed one first
        elif isinstance(handler, logging.StreamHandler) and getattr(handler.stream, "closed", 0):
            handler.stream = sys.stderr
