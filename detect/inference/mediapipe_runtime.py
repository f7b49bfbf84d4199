"""MediaPipe Tasks' ``ObjectDetector`` end to end on a MediaPipe export (``format=mediapipe``):
image in, detections out, by MediaPipe's code alone — its resizing, normalisation, interpreter
and the file's in-graph postprocess — behind our detector interface (the ``mediapipe`` backend).

MediaPipe gives one detection per box with every class that box won (the op's per-class NMS can
keep one anchor for several classes): each category becomes a detection of its own here, as
ours are. Its boxes are whole pixels (origin and size truncated). Its ``Category.index`` is
``None`` once the file names its classes (MediaPipe does not keep label ids beside names), so the
category id comes from the name, through the file's categories.

    detector = MediaPipeDetector("model.mediapipe.tflite", score_threshold=0.3)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import io
import os
import weakref
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detect.errors import ExportError
from detect.export.deployed import DeployedDetector, as_rgb_chw
from detect.export.mediapipe_support import labels_by_id, require_mediapipe
from detect.export.metadata import ExportMetadata
from detect.export.tflite import read_metadata

MAX_LABEL_FILE = 64 << 20  # bytes: a label file of COCO's ids is about 1 kB


def check_labels(model: bytes, metadata: ExportMetadata, source: str) -> None:
    """The label file MediaPipe names detections by (a zip appended to the flatbuffer) is the
    one our export writes for the metadata's categories: line ``id`` names category ``id``. A
    file with another one (too few lines, a million, a shifted line) is refused at load."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as bundle:
            texts = [info for info in bundle.infolist() if info.filename.endswith(".txt")]
            if len(texts) != 1 or texts[0].file_size > MAX_LABEL_FILE:
                raise ValueError(f"{len(texts)} label files")
            lines = bundle.read(texts[0]).decode("utf-8").splitlines()
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as error:
        raise ExportError(
            f"{source}: its MediaPipe label file is missing or unreadable ({error}); export it "
            "again with detect export format=mediapipe"
        ) from None
    if len(lines) != max(metadata.coco_ids) + 1 or lines != labels_by_id(
        metadata.coco_ids, metadata.names
    ):
        raise ExportError(
            f"{source}: its MediaPipe label file ({len(lines)} lines) does not name the "
            "categories its detect metadata lists; export it again with detect export "
            "format=mediapipe"
        )


class MediaPipeDetector(DeployedDetector):
    """A MediaPipe export run by ``mediapipe.tasks.python.vision.ObjectDetector`` (CPU, image
    mode). ``score_threshold`` / ``max_results``: MediaPipe's own options (None: MediaPipe's
    defaults, 0 and all: what the file's op keeps, i.e. our postprocess config's)."""

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        score_threshold: float | None = None,
        max_results: int | None = None,
    ) -> None:
        require_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        source = "the model" if isinstance(model, bytes) else str(model)
        if not isinstance(model, bytes):
            if not Path(model).is_file():
                raise ExportError(
                    f"exported model not found: {model}; write one with detect export "
                    "format=mediapipe"
                )
            model = Path(model).read_bytes()
        self.metadata = read_metadata(model, source)
        if self.metadata.outputs != "detections":
            raise ExportError(
                f"{source} is not a MediaPipe export (its graph ends in the raw heads); write "
                "one with detect export format=mediapipe"
            )
        check_labels(model, self.metadata, source)
        chosen = {"score_threshold": score_threshold, "max_results": max_results}
        options = vision.ObjectDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model),
            **{key: value for key, value in chosen.items() if value is not None},
        )
        try:
            self.detector = vision.ObjectDetector.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise ExportError(f"MediaPipe's ObjectDetector refused {source} ({error})") from None
        # closed when this object goes, or at exit before the interpreter tears down the
        # modules MediaPipe's own __del__ needs (it prints a traceback otherwise)
        self.close = weakref.finalize(self, self.detector.close)
        self.labels = {name: label for label, name in enumerate(self.metadata.names, 1)}

    def __call__(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Per image ``boxes`` (D, 4) xyxy pixels, ``scores``, ``labels`` (1..K), ``coco_ids``,
        ``names``; best score first."""
        import mediapipe as mp

        results = []
        for image in images:
            rgb = np.ascontiguousarray(as_rgb_chw(np.asarray(image)).transpose(1, 2, 0))
            found = self.detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            boxes, scores, labels = [], [], []
            for detection in found.detections:
                box = detection.bounding_box
                corners = (
                    box.origin_x,
                    box.origin_y,
                    box.origin_x + box.width,
                    box.origin_y + box.height,
                )
                for category in detection.categories:
                    boxes.append(corners)
                    scores.append(category.score)
                    # a name no category has: label 0, dropped and counted by named()
                    labels.append(self.labels.get(category.category_name, 0))
            order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
            results.append(
                self.named(
                    {
                        "boxes": np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[order],
                        "scores": np.asarray(scores, dtype=np.float32)[order],
                        "labels": np.asarray(labels, dtype=np.int64)[order],
                    }
                )
            )
        return results
