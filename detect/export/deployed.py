"""What every exported-model runtime shares (numpy only): images in, named detections out.

A runtime (ONNX Runtime, LiteRT) runs one batch of same-size uint8 images through its graph;
this turns either kind of graph's outputs — detections with their image index, or the raw heads
for the numpy :class:`~detect.export.decode.Decoder` — into per-image results with category
names and COCO ids from the file's metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from detect.errors import ExportError
from detect.export.admission import brief
from detect.export.metadata import ExportMetadata

log = logging.getLogger(__name__)

PROBE_SIDE = 32  # px: the image a loaded graph is tried on (each resizes it to its own side)


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
    Subclasses set ``metadata`` and ``source``, implement :meth:`run`, and call :meth:`probe`
    once loaded. A runtime's own failure on an image (an allocation the graph asks for, an
    unsupported shape) is one :class:`ExportError` line; boxes that are not finite and labels
    outside the categories (a graph that is not ours) are dropped and counted in ``dropped``."""

    metadata: ExportMetadata
    source: str = "the model"
    runtime_errors: tuple[type[BaseException], ...] = (RuntimeError, MemoryError)
    dropped: int = 0

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs for a (N, 3, H, W) uint8 batch, in its output order."""
        raise NotImplementedError

    def check(self, source: str) -> None:
        self.source = source
        if self.metadata.outputs == "raw" and self.metadata.decoder is None:
            raise ExportError(f"{source} is a network-only export without its decoder settings")

    def run_checked(self, batch: np.ndarray) -> list[np.ndarray]:
        try:
            return self.run(batch)
        except ExportError:
            raise
        except self.runtime_errors as error:
            raise ExportError(
                f"{self.source}: the runtime failed on a {batch.shape[3]}×{batch.shape[2]} image "
                f"({brief(error)})"
            ) from None

    def probe(self) -> None:
        """One small image through the graph at load: its outputs must be what the metadata
        says (the decoder's anchors and the categories for the raw heads; four aligned
        arrays for detections), or the file is refused before the first real image."""
        outputs = self.run_checked(np.zeros((1, 3, PROBE_SIDE, PROBE_SIDE), np.uint8))
        shapes = [tuple(np.shape(output)) for output in outputs]
        if self.metadata.outputs == "raw":
            anchors = len(self.metadata.decoder.anchors)
            expected = [(1, anchors, self.metadata.num_classes), (1, anchors, 4)]
            if shapes[:2] != expected:
                raise ExportError(
                    f"{self.source}: its graph answers {shapes[:2]} but its metadata describes "
                    f"{expected} ({anchors} anchors, {self.metadata.num_classes} classes with "
                    "the background); refused (export it again with detect export)"
                )
        elif len(shapes) != 4 or len({shape[:1] for shape in shapes}) != 1 or shapes[0][1:] != (4,):
            raise ExportError(
                f"{self.source}: its graph answers {shapes}, not boxes (D, 4), scores, labels "
                "and image indices (D); refused (export it again with detect export)"
            )

    def __call__(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Per image ``boxes`` (D, 4) xyxy pixels, ``scores``, ``labels`` (1..K), ``coco_ids``,
        ``names``; best score first."""
        arrays = [as_rgb_chw(np.asarray(image)) for image in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(arrays):
            groups.setdefault(array.shape, []).append(index)
        results: list[dict[str, np.ndarray]] = [{} for _ in arrays]
        for shape, indices in groups.items():
            outputs = self.run_checked(np.ascontiguousarray(np.stack([arrays[i] for i in indices])))
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
        """``found`` with names and COCO ids; a detection whose box or score is not finite, or
        whose label is no category's, is dropped (and counted in ``dropped``, with a warning)."""
        labels = np.asarray(found["labels"]).astype(np.int64, copy=False)
        valid = (
            np.isfinite(found["boxes"]).all(axis=1)
            & np.isfinite(found["scores"])
            & (labels >= 1)
            & (labels <= len(self.metadata.coco_ids))
        )
        if not valid.all():
            bad = int((~valid).sum())
            if not self.dropped:
                log.warning(
                    "%s: dropped %d detection(s) with a box or score that is not finite or a "
                    "label that is no category's (the graph is not behaving as ours do)",
                    self.source,
                    bad,
                )
            self.dropped += bad
            found = {key: np.asarray(value)[valid] for key, value in found.items()}
            labels = labels[valid]
        return {
            **found,
            "labels": labels,
            "coco_ids": np.asarray(self.metadata.coco_ids)[labels - 1],
            "names": np.asarray(self.metadata.names, dtype=object)[labels - 1],
        }
