"""Log handlers that outlive pytest's capture streams."""

from __future__ import annotations

import logging
import sys


def unstale_log_streams() -> None:
    """Point absl's log handlers at today's stderr. absl's handler (made when
    litert_torch is imported during collection) holds pytest's session capture stream; Hydra's
    logging set-up closes every handler ever made (logging._handlerList), and absl's close()
    closes any stream that is not the current sys.stderr/stdout: pytest would lose its own."""
    for ref in list(logging._handlerList):  # weak references to every handler, attached or not
        handler = ref()
        if type(handler).__module__.startswith("absl"):
            handler.stream = sys.stderr  # setStream would flush a closed one first
