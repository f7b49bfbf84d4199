"""The checked ONNX export of a checkpoint, kept on disk so that only the first load pays for it.

``backend=auto`` (and ``onnxruntime``) on the CPU runs a checkpoint as one ONNX graph, exported
and checked against PyTorch; this keeps that graph, so a later load of the same weights reads a
file instead. An entry is named by a key: the sha256 of the weights file's bytes and of
everything else the graph depends on (detect's version, torch's exporter and opset, onnx's, and
the onnxruntime that ran the check), so changed weights or a new version never meet an old
graph. An entry is written only once the parity check passed, as two files, each atomically:
``<key>.onnx`` (the graph, with its metadata), then ``<key>.json`` (the graph's sha256 and the
checkpoint's step). One that does not read back whole (a record missing, bytes not those it
recorded) is a miss, with a warning, and is written again.

The folder: ``$DETECT_CACHE``, else ``$XDG_CACHE_HOME/detect/exports`` (``~/.cache/…``). Clear it
with :func:`clear_cache`, or delete the folder a load's description names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnxruntime
import torch

from detect import __version__
from detect.errors import ExportError
from detect.export.onnx import OPSET
from detect.export.runtime import OnnxDetector
from detect.io import atomic_write
from detect.weights.checkpoint import Checkpoint, load_checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import is_published, open_checkpoint, weights_file

log = logging.getLogger(__name__)

CACHE_ENV = "DETECT_CACHE"
CACHE_FORMAT = 1  # the layout of an entry; a new one never reads an older one
ENTRY_FILE = re.compile(r"[0-9a-f]{64}\.(onnx|json)|\.[0-9a-f]{64}\.(onnx|json)\.\w+\.partial")


def default_cache_dir() -> Path:
    """``$DETECT_CACHE``, else ``detect/exports`` in ``$XDG_CACHE_HOME`` (or ``~/.cache``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "detect" / "exports"


@dataclass(frozen=True)
class Weights:
    """A detector's weights file, read once: the cache key of its export and, for a checkpoint,
    the bytes its model is built from (never a second read that could meet a newer file)."""

    spec: str
    key: str
    data: bytes | None  # None for published weights: their loader reads the file again

    def checkpoint(self, hub: HubConfig | None) -> Checkpoint:
        if self.data is None:
            return open_checkpoint(self.spec, hub)
        return load_checkpoint(self.spec, data=self.data)


def read_weights(spec: str | Path, hub: HubConfig | None = None) -> Weights | None:
    """``spec``'s weights and the key of their export; None when there is no such file (then
    :func:`~detect.weights.sources.open_checkpoint` says why)."""
    file = weights_file(spec, hub)
    if not file.is_file():
        return None
    data = file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not is_published(spec):
        return Weights(str(spec), export_key(digest), data)
    # named by its hash and never rewritten, the published file may be read again by its loader;
    # the URL is in the key since the run config (in the graph's metadata) records it
    return Weights(str(spec), export_key(digest, [str(spec), hub.url if hub else None]), None)


def export_key(weights_sha256: str, published: list[str | None] | None = None) -> str:
    """The name of an export: the weights and everything else its graph depends on."""
    recipe = {
        "format": CACHE_FORMAT,
        "weights": weights_sha256,
        "published": published,
        "detect": __version__,
        "torch": torch.__version__,
        "opset": OPSET,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


@dataclass
class CachedExport:
    """A checked export read back from the cache, on ONNX Runtime."""

    runtime: OnnxDetector
    global_step: int
    path: Path


class ExportCache:
    """Checked exports in ``folder`` (None: :func:`default_cache_dir`), one entry per key."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def paths(self, key: str) -> tuple[Path, Path]:
        """The entry's graph and its record."""
        return self.folder / f"{key}.onnx", self.folder / f"{key}.json"

    def load(self, key: str, threads: int | None = None) -> CachedExport | None:
        """The entry ``key`` on ONNX Runtime, or None: absent, or unreadable (a warning)."""
        model, record = self.paths(key)
        if not model.exists() and not record.exists():
            return None
        try:
            entry = json.loads(record.read_text())
            data = model.read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["onnx_sha256"]:
                raise ValueError("the graph's bytes are not those recorded")
            return CachedExport(OnnxDetector(data, threads), int(entry["global_step"]), model)
        except (OSError, ValueError, KeyError, TypeError, ExportError) as error:
            log.warning("export cache entry %s is unreadable (%s): exporting again", model, error)
            return None

    def write(self, key: str, data: bytes, global_step: int) -> Path | None:
        """Keep a checked export; None, with a warning, when the folder cannot take it (the
        load goes on without the cache)."""
        model, record = self.paths(key)
        entry = {"onnx_sha256": hashlib.sha256(data).hexdigest(), "global_step": global_step}
        try:
            atomic_write(model, data)
            atomic_write(record, json.dumps(entry))
        except OSError as error:
            log.warning(
                "cannot keep the export in %s (%s): the next load exports again", model, error
            )
            return None
        return model


def clear_cache(cache_dir: str | Path | None = None) -> int:
    """Delete every entry in ``cache_dir`` (None: :func:`default_cache_dir`), and nothing else
    there; returns how many files went."""
    folder = ExportCache(cache_dir).folder
    if not folder.is_dir():
        return 0
    removed = 0
    for file in folder.iterdir():
        if ENTRY_FILE.fullmatch(file.name):
            file.unlink(missing_ok=True)
            removed += 1
    return removed
