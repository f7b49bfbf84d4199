"""Writing mp4 files: the one codec every video this project writes uses."""

from __future__ import annotations

from pathlib import Path

import cv2

FOURCC = "mp4v"  # MPEG-4 Part 2: what opencv-python's FFmpeg writes and reads back everywhere


def video_writer(path: str | Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An open ``cv2.VideoWriter`` for BGR frames of ``size`` (W, H) at ``fps``, or an
    ``OSError`` naming the file."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write video {path} (OpenCV's FFmpeg, {FOURCC})")
    return writer
