"""The user-facing errors, in one place: a tool prints their message as one line, no traceback.

An error a user fixes by changing an input — a file, a config value, a video source — is one of
these, and its message names the thing and what to do; anything else is a bug and keeps its
traceback. This module imports nothing, so every layer (the torch-free ONNX runtime too) can
raise them.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class DetectError(Exception):
    """Base of every error that is the input's fault, not the program's."""


class ConfigError(DetectError, ValueError):
    """A config value that cannot work (a width ≤ 0, a batch size of 0, a refused resume)."""


class DatasetError(DetectError, ValueError):
    """A dataset that cannot be used as given; the message names the file and the fix."""


class ImageError(DatasetError):
    """An image file that cannot be read; ``reason`` says why (empty, truncated, …)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


class CheckpointError(DetectError, ValueError):
    """A file that is not a usable detect checkpoint; the message names it and says why."""


class ExportError(DetectError, ValueError):
    """A file that is not a usable exported detector; the message names it and says why."""


DISTRIBUTION = "detect-ssdlite"  # the name on PyPI; the import package and the command: detect
# extras pip cannot install in one line: MediaPipe's wheel requires a second OpenCV build over
# our opencv-python-headless, so mediapipe itself goes in --no-deps (see pyproject.toml)
NO_DEPS = {"mediapipe": "mediapipe>=1.2.2,<1.3"}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: every install line a message prints comes from here."""
    line = f"pip install '{DISTRIBUTION}[{extra}]'"
    if extra in NO_DEPS:
        line += f" && pip install --no-deps '{NO_DEPS[extra]}'"
    return line


class MissingExtraError(ConfigError):
    """A runtime or converter that is not installed: the message names the extra to install."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} is not installed here: {install_hint(extra)}")
        self.extra = extra


def import_extra(module: str, what: str, extra: str) -> ModuleType:
    """``module`` imported, or :class:`MissingExtraError` naming ``what`` and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(what, extra) from None


class StreamConfigError(ConfigError):
    """A stream setting that cannot work (mode, sizes, backend); the message says which."""


class IncompleteRunError(DetectError):
    """A run that finished and closed its outputs, but did not process everything it was given
    (a truncated file, a lost stream): the tool exits with code 2, not 1."""

    exit_code = 2


class SourceError(DetectError):
    """A video or image source that cannot be opened; the message names it."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot open video source {source!r}: {reason}")
        self.source, self.reason = source, reason
