"""Atomic file writes: a reader (or a run killed mid-save) never sees half a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, content: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (bytes, text, or a function that writes to the open binary file) to a
    hidden file beside ``path``, flush it to disk, then ``os.replace`` it onto ``path``.

    The staging file sits in the target's folder so the replace never crosses filesystems
    (a cross-device move is a plain, interruptible copy); fsync before the rename makes the
    new file's bytes durable before its name points at them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    try:
        with open(staging, "wb") as file:
            if isinstance(content, str):
                file.write(content.encode("utf-8"))
            elif isinstance(content, bytes):
                file.write(content)
            else:
                content(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path
