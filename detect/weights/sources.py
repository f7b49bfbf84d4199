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
        return torchvision_detector(str(spec).removeprefix(PREFIX), hub)
    return load_checkpoint(spec)


def weights_file(spec: str | Path, hub: HubConfig | None = None) -> Path:
    """The file ``spec``'s weights are read from: the checkpoint itself, or the published file
    (downloaded on first use)."""
    if is_published(spec):
        return published_file(str(spec).removeprefix(PREFIX), hub)
    return Path(spec)
