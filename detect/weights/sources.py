"""Every way to name a detector's weights, resolved to a :class:`Checkpoint`: a detect
checkpoint file, or ``torchvision:<name>`` for a published torchvision detector."""

from __future__ import annotations

from pathlib import Path

from detect.weights.checkpoint import Checkpoint, load_checkpoint
from detect.weights.hub import HubConfig
from detect.weights.torchvision import PREFIX, published_file, torchvision_detector


def is_published(spec: str | Path) -> bool:
    return str(spec).startswith(PREFIX)


def open_checkpoint(spec: str | Path, hub: HubConfig | None = None) -> Checkpoint:
    """``spec``: a ``.ckpt`` written by tools/train.py (or tools/import_weights.py), or
    ``torchvision:ssdlite320_mobilenet_v3_large`` (downloaded once, see ``hub``)."""
    if is_published(spec):
        return torchvision_detector(published_name(spec), hub)
    return load_checkpoint(spec)


def published_name(spec: str | Path) -> str:
    """``ssdlite320_mobilenet_v3_large`` of ``torchvision:ssdlite320_mobilenet_v3_large``."""
    return str(spec).removeprefix(PREFIX)


def run_folder(checkpoint: str | Path) -> Path:
    """The run a checkpoint belongs to: the folder above its ``checkpoints/``, else its own
    folder (outputs written for it go there)."""
    folder = Path(checkpoint).resolve().parent
    return folder.parent if folder.name == "checkpoints" else folder


def weights_file(spec: str | Path, hub: HubConfig | None = None) -> Path:
    """The file ``spec``'s weights are read from: the checkpoint itself, or the published file
    (downloaded on first use)."""
    if is_published(spec):
        return published_file(published_name(spec), hub)
    return Path(spec)
