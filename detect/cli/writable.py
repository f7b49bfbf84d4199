"""Output folders checked writable when a command starts, before its work: a run that cannot
save should stop in a second, not after the evaluation or the export it could not write."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from detect.errors import ConfigError


def check_writable(folder: str | Path, key: str) -> Path:
    """Whether ``folder`` can be made and written: its nearest existing ancestor must be a
    folder that takes a (removed) probe file. Nothing is created, so a command that fails
    later for another reason leaves no empty folders. A :class:`ConfigError` names the ``key``
    that chose the folder and why it cannot be written."""
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(0, f"{existing} is a file, not a folder")
        with tempfile.TemporaryFile(dir=existing, prefix=".detect-probe-"):
            pass
    except OSError as error:
        raise ConfigError(
            f"{key}={folder}: cannot write there ({error.strerror or error}); choose a folder "
            "you can write (nothing was run)"
        ) from None
    return folder


def check_output_file(path: str | Path, key: str, suffix: str) -> Path:
    """``path`` can be written as a file (``suffix``: what an example name ends with): not an
    existing folder, and its folder writable (:func:`check_writable`); checked before the work
    that would write it."""
    path = Path(path).absolute()
    if path.is_dir():
        raise ConfigError(
            f"{key}={path} is a folder; name the file to write in it, such as "
            f"{path / ('model' + suffix)} (nothing was run)"
        )
    check_writable(path.parent, key)
    return path


def check_output_folder(folder: str | Path, key: str) -> Path:
    """``folder`` can be made or filled: not an existing file, and writable."""
    folder = Path(folder).absolute()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"{key}={folder} is a file, and this export writes a folder; name a new or existing "
            "folder (nothing was run)"
        )
    return check_writable(folder, key)


class RunFolderCheck(Callback):
    """A Hydra callback (``conf/train.yaml``'s ``hydra.callbacks``): the run folder checked
    writable before Hydra makes it, since Hydra's own ``mkdir`` failing ends in a traceback
    outside the command's function. Says so in one ``error:`` line and exits 1."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_writable(config.hydra.run.dir, "runs_dir")
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
