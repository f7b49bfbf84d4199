"""What every exported-model runtime shares (numpy only): images in, named detections out.

A runtime (ONNX Runtime, LiteRT) runs one batch of same-size uint8 images through its graph;
this turns either kind of graph's outputs — detections with their image index, or the raw heads
for the numpy :class:`~detect.export.decode.Decoder` — into per-image results with category
names and COCO ids from the file's metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detect.errors import ExportError
from detect.export.metadata import ExportMetadata


def as_rgb_chw(image: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 with 1 (grey), 3 (RGB) or 4 (RGBA) channels → (3, H, W) uint8."""
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"expected an image array (C, H, W) with C = 1, 3 or 4, got {image.shape} "
            "(for an HWC array use image.transpose(2, 0, 1))"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"the exported model takes uint8 images, got {image.dtype}")
    if image.shape[0] == 1:
        return np.repeat(image, 3, axis=0)
    return image[:3]


class DeployedDetector:
    """Detections for a list of images; images of equal size share one run (one batch).
    Subclasses set ``metadata`` and implement :meth:`run`."""

    metadata: ExportMetadata

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs for a (N, 3, H, W) uint8 batch, in its output order."""
        raise NotImplementedError

    def check(self, source: str) -> None:
        if self.metadata.outputs == "raw" and self.metadata.decoder is None:
            raise ExportError(f"{source} is a network-only export without its decoder settings")

    def __call__(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Per image ``boxes`` (D, 4) xyxy pixels, ``scores``, ``labels`` (1..K), ``coco_ids``,
        ``names``; best score first."""
        arrays = [as_rgb_chw(np.asarray(image)) for image in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(arrays):
            groups.setdefault(array.shape, []).append(index)
        results: list[dict[str, np.ndarray]] = [{} for _ in arrays]
        for shape, indices in groups.items():
            outputs = self.run(np.ascontiguousarray(np.stack([arrays[i] for i in indices])))
            for position, index in enumerate(indices):
                if self.metadata.outputs == "raw":
                    logits, codes = outputs[0][position], outputs[1][position]
                    found = self.metadata.decoder(logits, codes, shape[1:])
                else:
                    boxes, scores, labels, batch_index = outputs
                    mine = batch_index == position
                    found = {"boxes": boxes[mine], "scores": scores[mine], "labels": labels[mine]}
                results[index] = self.named(found)
        return results

    def named(self, found: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        labels = found["labels"]
        return {
            **found,
            "coco_ids": np.asarray(self.metadata.coco_ids)[labels - 1],
            "names": np.asarray(self.metadata.names, dtype=object)[labels - 1],
        }
