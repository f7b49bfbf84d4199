"""Our own runtime's side of a MediaPipe export (numpy only): the file takes the model's float
NHWC input in [-1, 1] at its fixed size and ends in ``TFLite_Detection_PostProcess``, so LiteRT
runs it as it is; here the input is made as our preprocessing makes it (bilinear resize, then
x / 127.5 − 1) and the op's four outputs become detections in the image's own pixels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def source_positions(length: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling along one axis (half-pixel centres, PyTorch's ``align_corners=False``):
    the lower and upper source indices of each of ``size`` outputs and the upper one's weight."""
    position = np.maximum((np.arange(size) + 0.5) * (length / size) - 0.5, 0.0)
    lower = np.minimum(np.floor(position).astype(np.int64), length - 1)
    upper = np.minimum(lower + 1, length - 1)
    return lower, upper, (position - lower).astype(np.float32)


def model_input(image: np.ndarray, size: int) -> np.ndarray:
    """(3, H, W) uint8 → (1, size, size, 3) float32 in [-1, 1], as ``graph.model_input``."""
    pixels = image.astype(np.float32)
    top, bottom, row_weight = source_positions(image.shape[1], size)
    left, right, column_weight = source_positions(image.shape[2], size)
    rows = pixels[:, top] * (1 - row_weight[:, None]) + pixels[:, bottom] * row_weight[:, None]
    resized = rows[:, :, left] * (1 - column_weight) + rows[:, :, right] * column_weight
    return (resized / 127.5 - 1.0).transpose(1, 2, 0)[None].astype(np.float32)


def op_detections(
    outputs: Sequence[np.ndarray], original: tuple[int, int], coco_ids: Sequence[int]
) -> dict[str, np.ndarray]:
    """The op's (boxes (1, D, 4) y1 x1 y2 x2 in [0, 1], classes (1, D) = category ids,
    scores (1, D), count (1,)) → ``boxes`` xyxy in the original (height, width) pixels,
    ``scores``, ``labels`` 1..K; best first, as the op sorts them."""
    boxes, classes, scores, count = (np.asarray(output) for output in outputs)
    kept = int(count.reshape(-1)[0])
    height, width = original
    y1, x1, y2, x2 = (boxes[0, :kept] * [height, width, height, width]).T
    label_of = {coco_id: label for label, coco_id in enumerate(coco_ids, 1)}
    return {
        "boxes": np.stack((x1, y1, x2, y2), axis=1).astype(np.float32),
        "scores": scores[0, :kept].astype(np.float32),
        "labels": np.array([label_of[int(c)] for c in classes[0, :kept]], dtype=np.int64),
    }
