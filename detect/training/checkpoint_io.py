"""Lightning's checkpoint writer, made atomic, and a save that fails not losing the run."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from detect.io import atomic_write

log = logging.getLogger(__name__)


def rescue_path(path: str | Path) -> Path:
    """Where a checkpoint goes when its own folder cannot be written: the system temp folder,
    named after the run (``<run>-last.ckpt``)."""
    path = Path(path)
    run = path.parent.parent.name if path.parent.name == "checkpoints" else path.parent.name
    return Path(tempfile.gettempdir()) / "detect-unsaved" / f"{run}-{path.name}"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints through :func:`detect.io.atomic_write`: a run killed mid-save leaves the
    previous checkpoint intact. (Lightning's fsspec transaction stages the file in the system
    temp folder and moves it, which is a plain, interruptible copy when that folder is on
    another filesystem.) A save that cannot be written (disk full, folder gone or read-only)
    does not end the run: the checkpoint is written to :func:`rescue_path` instead, or — when
    that fails too — training goes on with its state in memory and the next save tries again;
    either way one error line says where it could not write. ``failed`` lists those paths."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[Path] = []

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        def write(file: Any) -> None:
            torch.save(checkpoint, file)

        try:
            atomic_write(path, write)
            return
        except OSError as error:
            reason = error.strerror or str(error)
        self.failed.append(Path(path))
        rescue = rescue_path(path)
        try:
            atomic_write(rescue, write)
            kept = f"written to {rescue} instead; copy it back once the folder can be written"
        except OSError:
            kept = "the run's state stays in memory and the next save tries again"
        log.error("could not write the checkpoint %s (%s): %s", path, reason, kept)
