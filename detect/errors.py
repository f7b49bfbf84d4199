"""User-facing errors: the tools print their message instead of a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from detect.data.coco import DatasetError
from detect.export.runtime import ExportError
from detect.inference.stream import StreamConfigError
from detect.training.checkpoint import CheckpointError

USER_ERRORS = (CheckpointError, DatasetError, ExportError, StreamConfigError, FileNotFoundError)

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(main: Callable[P, R]) -> Callable[P, R]:
    """Exit with status 1 and ``error: <message>`` on a bad checkpoint, export, dataset or path."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as error:
            sys.exit(f"error: {error}")

    return wrapper
