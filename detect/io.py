"""Atomic file writes: a reader (or a run killed mid-save) never sees half a file, and a link
planted beside the target never redirects the write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it), then put back
os.umask(UMASK)


def staging_file(path: Path, suffix: str = ".partial") -> tuple[BinaryIO, Path]:
    """A new file of our own beside ``path`` (created exclusively under a random name, never
    through a link: ``tempfile.mkstemp`` opens with ``O_CREAT | O_EXCL | O_NOFOLLOW``), open
    for binary writing, and its path. Its mode is an ordinary new file's (mkstemp's is 0600)."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.fchmod(descriptor, 0o666 & ~UMASK)
    return os.fdopen(descriptor, "wb"), Path(name)


def fresh_file(path: str | Path) -> BinaryIO:
    """A new, empty file at ``path`` open for binary writing, for a file written as it goes
    (JSON lines a reader follows): made exclusively beside ``path``, then renamed onto it at
    once, so whatever ``path`` was -- a link included -- is replaced, never written through."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file, staging = staging_file(path)
    try:
        os.replace(staging, path)
    except BaseException:
        file.close()
        staging.unlink(missing_ok=True)
        raise
    return file


def atomic_write(path: str | Path, content: bytes | str | Callable[[BinaryIO], object]) -> Path:
    """Write ``content`` (bytes, text, or a function that writes to the open binary file) to a
    hidden file beside ``path``, flush it to disk, then ``os.replace`` it onto ``path``.

    The staging file sits in the target's folder so the replace never crosses filesystems
    (a cross-device move is a plain, interruptible copy); fsync before the rename makes the
    new file's bytes durable before its name points at them. It is created exclusively under
    an unpredictable name, and the rename replaces whatever ``path`` was (a link included)
    rather than writing through it: a link planted at either name leaves its target alone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    file, staging = staging_file(path)
    try:
        with file:
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
