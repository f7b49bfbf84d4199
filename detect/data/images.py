"""The one reader of image files: datasets, frame sources and tools all decode through it.

Every unreadable file — missing, empty, a directory, no read permission, a truncated JPEG, bytes
that are no image — raises the same :class:`~detect.errors.ImageError` with a reason, which a
dataset counts and skips (or raises), a frame source skips with a warning, and a tool reports
by name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from PIL import Image
from torch import Tensor

from detect.data.location import data_hint
from detect.errors import DatasetError, ImageError

# OpenCV's thread pool, once started in a process, deadlocks DataLoader workers forked from it
# later (e.g. images decoded here, then an evaluation loader with workers). Images are small
# work items and parallelism comes from the workers, so OpenCV stays single-threaded.
cv2.setNumThreads(1)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


def probe_image(path: str | Path) -> str | None:
    """Why ``path`` cannot be an image, from the file system alone (nothing is decoded), or
    None when it may be one: cheap enough to run over a whole dataset before training."""
    path = Path(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        return "image file missing"
    except OSError as error:
        return f"cannot read the file ({error.strerror or error})"
    if stat.S_ISDIR(status.st_mode):
        return "a directory, not an image file"
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file"
    if status.st_size == 0:
        return "empty file (0 bytes)"
    if not os.access(path, os.R_OK):
        return "permission denied: the file cannot be read"
    return None


def read_image(path: str | Path, order: Literal["rgb", "bgr"] = "rgb") -> np.ndarray:
    """(H, W, 3) uint8 in ``order``, or an :class:`ImageError` that says why not."""
    path = Path(path)
    reason = probe_image(path)
    if reason is not None:
        raise ImageError(path, reason)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except PermissionError:
        raise ImageError(path, "permission denied: the file cannot be read") from None
    except OSError as error:
        raise ImageError(path, f"cannot read the file ({error.strerror or error})") from None
    return decode_image(data, path, order)


def jpeg_end(data: bytes) -> int | None:
    """Where a JPEG's first image ends (just past its EOI marker), walking its segments and
    scans, or None when its bytes end first: bytes after the image (padding, a phone's MPO
    second picture) are not a truncation, and an EXIF thumbnail's own EOI is not the image's."""
    size, at = len(data), 2
    while at + 4 <= size:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xD9:
            return at + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            at += 2
            continue
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == 0xDA:  # a scan: entropy-coded bytes up to the next real marker
            while True:
                at = data.find(b"\xff", at)
                if at < 0 or at + 1 >= size:
                    return None
                following = data[at + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    at += 1 if following == 0xFF else 2
                    continue
                break
    return at + 2 if data[at : at + 2] == JPEG_END else None


def decode_image(
    data: np.ndarray | bytes,
    name: object,
    order: Literal["rgb", "bgr"] = "bgr",
    flags: int = cv2.IMREAD_COLOR,
) -> np.ndarray:
    """An encoded image's bytes (a file's, an upload's) → (H, W, 3) uint8 in ``order``, or an
    :class:`ImageError` naming ``name``: the one decoder of files and the server's uploads
    (``flags``: OpenCV's, e.g. ``IMREAD_REDUCED_COLOR_4`` to decode a JPEG at a quarter)."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    if data.size == 0:  # emptied since the probe
        raise ImageError(name, "empty file (0 bytes)")
    # OpenCV decodes a truncated JPEG without complaint, filling the missing rows with grey
    if data[:2].tobytes() == JPEG_START and jpeg_end(data.tobytes()) is None:
        raise ImageError(name, "truncated JPEG (no end-of-image marker)")
    try:
        image = cv2.imdecode(data, flags)
    except cv2.error:
        image = None
    if image is None:
        raise ImageError(name, "not an image OpenCV can decode (corrupt, or another format)")
    return image if order == "bgr" else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file's header (PIL reads no pixels), or an :class:`ImageError`:
    for readers of formats whose labels need the size (YOLO's are relative to it)."""
    path = Path(path)
    reason = probe_image(path)
    if reason is not None:
        raise ImageError(path, reason)
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ImageError(path, "not an image (no readable image header)") from None


def to_chw_tensor(image: np.ndarray) -> Tensor:
    """(H, W, 3) uint8 → a contiguous (3, H, W) tensor, the layout detectors take."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def image_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` by name (suffixes OpenCV reads)."""
    return sorted(path for path in Path(folder).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)


def load_images(folder: str | Path, count: int) -> list[Tensor]:
    """The first ``count`` images of ``folder`` (by name) as (3, H, W) uint8 RGB tensors; an
    unreadable one is an error naming it (these are the images a check or a timing runs on)."""
    folder = Path(folder)
    if count < 1:
        raise DatasetError(f"asked for {count} images from {folder}; need at least 1")
    if not folder.is_dir():
        raise DatasetError(
            f"image folder not found: {folder} (relative to the directory the tool runs in)"
            + data_hint(folder)
        )
    files = image_files(folder)
    if len(files) < count:
        raise DatasetError(f"{folder} holds {len(files)} images, fewer than the {count} asked for")
    return [to_chw_tensor(read_image(file)) for file in files[:count]]
