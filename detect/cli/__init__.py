"""Tool wiring: each module turns one tool's composed Hydra config into library calls.

The only layer that knows Hydra and OmegaConf (checked by import-linter). Every tool in
``tools/`` runs its ``main`` through :func:`friendly_errors`.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from detect.errors import DetectError

P = ParamSpec("P")
R = TypeVar("R")


def user_error(error: BaseException) -> DetectError | None:
    """The :class:`DetectError` behind ``error``: itself, or one it was raised from (Hydra's
    ``instantiate`` wraps what a target raised as "Error in call to target …")."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, DetectError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def friendly_errors(main: Callable[P, R]) -> Callable[P, R]:
    """Exit with one ``error: <message>`` line and status 1 (or the error's ``exit_code``) when
    the input is at fault (a :class:`DetectError`); anything else is a bug and keeps its
    traceback. ``HYDRA_FULL_ERROR=1`` shows the traceback of input errors too."""

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return main(*args, **kwargs)
        except Exception as error:
            found = user_error(error)
            if found is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {found}", file=sys.stderr)
            sys.exit(getattr(found, "exit_code", 1))

    return wrapper
