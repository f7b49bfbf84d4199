"""Stand-ins for the stream tests: a synthetic live source and recording/slow detectors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.inference.sources import Frame, Source, to_rgb_chw

CATEGORIES = CategoryMap((1, 3, 7), ("circle", "square", "triangle"))


@dataclass(eq=False)
class SyntheticSource(Source):
    """``count`` frames of ``size`` as fast as asked (or every ``period`` s), frame k filled
    with k % 256; raises after ``fail_after`` frames when set."""

    count: int = 100
    size: tuple[int, int] = (48, 64)  # (H, W)
    period: float = 0.0
    fail_after: int | None = None
    closed: bool = field(default=False)

    def frames(self, stop: threading.Event, pace: bool = False) -> Iterator[Frame]:
        for index in range(self.count):
            if stop.is_set():
                return
            if self.fail_after is not None and index == self.fail_after:
                raise OSError("synthetic failure")
            if self.period:
                time.sleep(self.period)
            bgr = np.full((*self.size, 3), index % 256, np.uint8)
            yield Frame(self.name, index, time.time(), bgr, to_rgb_chw(bgr), time.perf_counter())

    def close(self) -> None:
        self.closed = True


def synthetic(name: str, live: bool = False, **options) -> SyntheticSource:
    return SyntheticSource(name, "stream" if live else "video", live=live, **options)


class Recorder:
    """Wraps a detector (default: one box per image, label 1, score 0.9), records each call's
    batch size and the images' first pixel (the synthetic frame index), optionally sleeps, and
    runs ``check`` before each call."""

    def __init__(
        self,
        detector: Callable[[Sequence[Tensor]], list[dict[str, Tensor]]] | None = None,
        delay: float = 0.0,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.detector, self.delay, self.check = detector, delay, check
        self.batch_sizes: list[int] = []
        self.first_pixels: list[int] = []

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        if self.check is not None:
            self.check()
        self.batch_sizes.append(len(images))
        self.first_pixels += [int(image[0, 0, 0]) for image in images]
        if self.delay:
            time.sleep(self.delay)
        if self.detector is not None:
            return self.detector(images)
        return [
            {
                "boxes": torch.tensor([[1.0, 2.0, 20.0, 30.0]]),
                "scores": torch.tensor([0.9]),
                "labels": torch.tensor([1]),
            }
            for _ in images
        ]


def write_clip(path: Path, frames: int, size: tuple[int, int] = (64, 48), fps: float = 25.0):
    """A synthetic mp4 whose frame k is filled with grey level 4k (mod 256)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(frames):
        writer.write(np.full((size[1], size[0], 3), 4 * index % 256, np.uint8))
    writer.release()
    return path
