"""Lightning's checkpoint writer, made atomic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from detect.io import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints through :func:`detect.io.atomic_write`: a run killed mid-save leaves the
    previous checkpoint intact. (Lightning's fsspec transaction stages the file in the system
    temp folder and moves it, which is a plain, interruptible copy when that folder is on
    another filesystem.)"""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        atomic_write(path, lambda file: torch.save(checkpoint, file))
