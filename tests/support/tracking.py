"""A ground-truth "detector" for the tracking tests: the synthetic scene's exact boxes with
noise, misses and ByteTrack's low scores for hidden objects — and a source whose frames carry
their index, so the stream's detector knows which frame it sees."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from detect.data.moving_shapes import ObjectState, Scene, VideoConfig
from detect.evaluation.tracking import Boxes
from detect.inference.sources import Frame, Source, to_rgb_chw

MIN_VISIBILITY = 0.3  # ground truth less visible than this is ignored when scoring
SEEN = 0.15  # the detector finds objects at least this visible


def detections(
    states: Sequence[ObjectState], rng: np.random.Generator, sigma: float = 1.0, miss: float = 0.03
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (D, 4), scores (D,), labels (D,)) for one frame's objects: box corners off by
    N(0, ``sigma``) px, a ``miss`` chance of not finding an object; scores 0.95 from half
    visible on, falling below (0.65 at 30 % visible: a new track; 0.43 at 15 %: ByteTrack's
    low-score stage)."""
    found = [s for s in states if s.visibility >= SEEN and rng.random() >= miss]
    boxes = np.array([s.box for s in found], np.float64).reshape(-1, 4)
    boxes += rng.normal(0, sigma, boxes.shape)
    visibility = np.array([s.visibility for s in found])
    scores = np.clip(
        0.2 + 0.75 * np.minimum(1, 2 * visibility) - rng.uniform(0, 0.05, len(found)), 0, 1
    )
    labels = np.array([s.category_id for s in found], np.int64)
    return boxes, scores, labels


def ground_truth(truth: list[list[ObjectState]]) -> dict[int, Boxes]:
    """The scene's ground truth as :func:`detect.evaluation.tracking.read_mot` gives it."""
    frames: dict[int, Boxes] = {}
    for frame, states in enumerate(truth, 1):
        boxes = frames.setdefault(frame, Boxes())
        for s in states:
            boxes.add(
                s.object_id, list(map(float, s.box)), s.category_id, s.visibility >= MIN_VISIBILITY
            )
    return frames


def stamp(image: np.ndarray, tag: int, index: int) -> None:
    """Write the source tag and the frame index into the first pixels (BGR, in place)."""
    image[0, 0] = (tag, index % 256, index // 256)


@dataclass(eq=False)
class SceneSource(Source):
    """The scene's frames (black, stamped with ``tag`` and the index), ``frames`` of them
    (``step``: every step-th frame, the others dropped before the stream sees them), looped
    ``passes`` times as a looped file is (each pass a new segment); ``period`` paces it."""

    scene: Scene | None = None
    tag: int = 0
    step: int = 1
    passes: int = 1
    period: float = 0.0
    closed: bool = field(default=False)

    def frames(self, stop: threading.Event, pace: bool = False) -> Iterator[Frame]:
        config = self.scene.config
        for segment in range(self.passes):
            for frame in range(0, config.frames, self.step):
                if stop.is_set():
                    return
                if self.period:
                    time.sleep(self.period)
                bgr = np.zeros((config.height, config.width, 3), np.uint8)
                stamp(bgr, self.tag, frame)
                index = segment * config.frames + frame  # indices go on counting, as a file's
                yield Frame(
                    self.name,
                    index,
                    index / config.fps,
                    bgr,
                    to_rgb_chw(bgr),
                    time.perf_counter(),
                    segment=segment,
                )

    def close(self) -> None:
        self.closed = True


class TruthDetector:
    """A detector that answers each stamped frame with its scene's noisy ground truth (the
    same answer for the same frame, whatever the batch)."""

    def __init__(self, scenes: dict[int, Scene], seed: int = 0, **noise: float) -> None:
        self.answers = {}
        for tag, scene in scenes.items():
            rng = np.random.default_rng((seed, tag))
            self.answers[tag] = [detections(s, rng, **noise) for s in scene.ground_truth()]

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        out = []
        for image in images:  # (3, H, W) RGB: the stamp's BGR is reversed
            index, tag = int(image[1, 0, 0]) + 256 * int(image[0, 0, 0]), int(image[2, 0, 0])
            boxes, scores, labels = self.answers[tag][index]
            out.append(
                {
                    "boxes": torch.from_numpy(boxes).float(),
                    "scores": torch.from_numpy(scores).float(),
                    "labels": torch.from_numpy(labels),
                }
            )
        return out


def scene(seed: int, frames: int = 500) -> Scene:
    return Scene(VideoConfig(frames=frames, objects=max(4, 20 * frames // 500)), seed)
