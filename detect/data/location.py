"""Where the named data sets live for a user (``data=coco_subset``, the benchmarks' images):
``$DETECT_DATA``, else the user's data folder (``$XDG_DATA_HOME/detect``, by default
``~/.local/share/detect``). Nothing defaults to a folder beside a checkout."""

from __future__ import annotations

import os
from pathlib import Path

ENV = "DETECT_DATA"


def user_data_dir() -> Path:
    """The user's data folder for detect, as the XDG base-directory spec places it."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base).expanduser() / "detect"


def data_home() -> Path:
    """``$DETECT_DATA`` (``~`` expanded), else :func:`user_data_dir`."""
    chosen = os.environ.get(ENV)
    return Path(chosen).expanduser() if chosen else user_data_dir()


def data_hint(path: str | os.PathLike[str]) -> str:
    """For a missing ``path`` under :func:`data_home`: where named data sets are read from and
    how to move them (appended to the not-found error); empty for any other path."""
    home = data_home().absolute()
    if not Path(path).absolute().is_relative_to(home):
        return ""
    told = f"${ENV}={os.environ[ENV]}" if os.environ.get(ENV) else f"${ENV} (not set)"
    return (
        f"; named data sets are read from {told}, else {user_data_dir()}: put the data set "
        f"there or set {ENV}=/path/to/data"
    )
