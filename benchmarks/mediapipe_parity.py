"""MediaPipe's ObjectDetector against our detector on the same weights: detections paired at
the model's input size (images resized beforehand, so no resizing can differ), agreement at full
size (MediaPipe resizes itself), and latency end to end interleaved with our LiteRT path.

    python -m benchmarks.mediapipe_parity ckpt=runs/<run>/checkpoints/last.ckpt count=20

``ckpt``: a checkpoint or ``torchvision:<name>``; ``images``: a folder (default coco_subset's
val2017); ``weights_path``: a published checkpoint's file read instead of a download;
``threshold``: the score above which detections are compared (predict's 0.3);
``rounds``: timed rounds per runtime. Two conversions (MediaPipe's file, our raw-heads
``.tflite``): a few minutes on two cores.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from omegaconf import OmegaConf
from torch import Tensor

from detect.data.images import load_images

ORIGIN_TOLERANCE = 1.0  # px: MediaPipe truncates the origin to whole pixels
FAR_TOLERANCE = 2.0  # px: and the size, so right/bottom may lose two
SCORE_TOLERANCE = 2e-3
DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared/data/coco_subset/val2017"

Found = dict[str, np.ndarray]


def resized(images: Sequence[Tensor], size: int) -> list[Tensor]:
    """Each image resized to ``size``² beforehand (OpenCV, area), (3, size, size) uint8."""
    return [
        torch.from_numpy(
            cv2.resize(image.permute(1, 2, 0).numpy(), (size, size), interpolation=cv2.INTER_AREA)
        )
        .permute(2, 0, 1)
        .contiguous()
        for image in images
    ]


def warped_like_mediapipe(images: Sequence[Tensor], size: int) -> list[Tensor]:
    """Each image resized to ``size``² as MediaPipe's CPU ImageToTensorCalculator resizes it:
    OpenCV's bilinear warp mapping the image's corners onto the tensor's (x' = x · size / W),
    in uint8. Ours maps pixel centres (x' = (x + 0.5) · size / W − 0.5) and interpolates in
    float: a shift of 0.5 · (1 − size / W) tensor pixels and rounding."""
    warped = []
    for image in images:
        array = image.permute(1, 2, 0).numpy()
        height, width = array.shape[:2]
        matrix = np.array([[size / width, 0, 0], [0, size / height, 0]], dtype=np.float64)
        out = cv2.warpAffine(
            array, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )  # replicated edges: 0.887 of ours matched on the COCO detector, a zero border 0.830
        warped.append(torch.from_numpy(out).permute(2, 0, 1).contiguous())
    return warped


def above(found: Found, threshold: float) -> Found:
    keep = found["scores"] > threshold
    return {key: np.asarray(found[key])[keep] for key in ("boxes", "scores", "labels")}


def unpaired(mine: Found, theirs: Found) -> list[int]:
    """Indices of ``mine`` with no detection in ``theirs`` of the same class, origin within
    1 px, right/bottom within 2 px and score within 2e-3."""
    missing = []
    for index, (box, score, label) in enumerate(
        zip(mine["boxes"], mine["scores"], mine["labels"], strict=True)
    ):
        delta = np.abs(theirs["boxes"] - box)
        near = (
            (theirs["labels"] == label)
            & (delta[:, :2].max(axis=1, initial=0) <= ORIGIN_TOLERANCE)
            & (delta[:, 2:].max(axis=1, initial=0) <= FAR_TOLERANCE)
            & (np.abs(theirs["scores"] - score) <= SCORE_TOLERANCE)
        )
        if not near.any():
            missing.append(index)
    return missing


def pair_both_ways(ours: Found, theirs: Found, threshold: float) -> tuple[int, int, int]:
    """(detections above ``threshold``, ours MediaPipe lacks, MediaPipe's we lack); a partner
    is looked for down to ``threshold`` − the score tolerance (a score at the cut may fall
    either side)."""
    low = threshold - SCORE_TOLERANCE
    lacking = unpaired(above(ours, threshold), above(theirs, low))
    extra = unpaired(above(theirs, threshold), above(ours, low))
    return len(above(ours, threshold)["scores"]), len(lacking), len(extra)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def agreement(ours: Found, theirs: Found, threshold: float) -> tuple[int, int, list[float]]:
    """(our detections above ``threshold``, those MediaPipe has a same-class box for at IoU
    ≥ 0.5, the best IoU of each of them)."""
    mine, other = above(ours, threshold), above(theirs, threshold)
    ious = []
    for box, label in zip(mine["boxes"], mine["labels"], strict=True):
        same = other["labels"] == label
        best = iou(box, other["boxes"][same]).max(initial=0.0)
        if best >= 0.5:
            ious.append(float(best))
    return len(mine["scores"]), len(ious), ious


@dataclass
class Report:
    images: int
    detections: int
    lacking: int
    extra: int
    full_detections: int
    full_matched: int
    full_mean_iou: float
    warped_detections: int
    warped_matched: int
    warped_mean_iou: float

    def lines(self, threshold: float) -> list[str]:
        return [
            f"at the model's size ({self.images} images resized beforehand): "
            f"{self.detections} detections > {threshold}, {self.lacking} of ours without a "
            f"MediaPipe partner, {self.extra} of MediaPipe's without ours",
            f"at full size: {self.full_matched}/{self.full_detections} of ours matched "
            f"(same class, IoU ≥ 0.5) = {self.full_matched / max(self.full_detections, 1):.3f}, "
            f"mean IoU {self.full_mean_iou:.4f}",
            f"at full size, ours on frames warped as MediaPipe warps them: "
            f"{self.warped_matched}/{self.warped_detections} = "
            f"{self.warped_matched / max(self.warped_detections, 1):.3f}, "
            f"mean IoU {self.warped_mean_iou:.4f}",
        ]


def compare(
    ours: Callable[[list[Tensor]], list[Found]],
    theirs: Callable[[list[np.ndarray]], list[Found]],
    images: Sequence[Tensor],
    size: int,
    threshold: float,
) -> Report:
    """``ours`` (tensors in) and ``theirs`` (MediaPipe, arrays in) on ``images``, resized to
    ``size`` beforehand and at full size."""
    small = resized(images, size)
    counts = np.zeros(3, dtype=int)
    for mine, other in zip(ours(small), theirs([i.numpy() for i in small]), strict=True):
        counts += pair_both_ways(mine, other, threshold)
    full_theirs = theirs([image.numpy() for image in images])
    warped = ours(warped_like_mediapipe(images, size))
    for found, image in zip(warped, images, strict=True):  # back to the frame's pixels
        height, width = image.shape[1:]
        found["boxes"] = found["boxes"] * np.array([width, height] * 2, np.float32) / size
    figures = []
    for mine_all in (ours(list(images)), warped):
        total, matched, ious = 0, 0, []
        for mine, other in zip(mine_all, full_theirs, strict=True):
            count, hits, found = agreement(mine, other, threshold)
            total, matched, ious = total + count, matched + hits, ious + found
        figures += [total, matched, float(np.mean(ious)) if ious else float("nan")]
    return Report(len(images), *counts.tolist(), *figures)


def interleaved(runners: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each runner, timed in turn round after round (one warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():
        run()
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: Sequence[str]) -> None:
    from detect.export.litert import export_tflite
    from detect.export.litert_runtime import LiteRTDetector
    from detect.export.mediapipe import convert, export_mediapipe
    from detect.export.onnx import metadata_for, to_numpy
    from detect.inference.mediapipe_runtime import MediaPipeDetector
    from detect.models.predictor import Predictor
    from detect.weights.hub import HubConfig
    from detect.weights.sources import open_checkpoint

    cfg = OmegaConf.merge(
        {"ckpt": "???", "images": str(DEFAULT_IMAGES), "count": 20, "threshold": 0.3,
         "rounds": 20, "threads": 2, "weights_path": None},
        OmegaConf.from_dotlist(list(argv)),
    )  # fmt: skip
    checkpoint = open_checkpoint(cfg.ckpt, HubConfig(weights_path=cfg.weights_path))
    model = checkpoint.model
    images = load_images(cfg.images, cfg.count)
    metadata = metadata_for(model, checkpoint.categories, checkpoint.model_config, {})
    converted = convert(model, metadata.coco_ids)  # one conversion, two files
    mediapipe_file = export_mediapipe(model, metadata, converted)
    default = model.postprocess_config  # the second file as `detect export score_thresh=…`
    model.postprocess_config = replace(default, score_thresh=cfg.threshold)
    predict_file = export_mediapipe(model, metadata, converted)
    model.postprocess_config = default
    predictor = Predictor(model)
    mediapipe = MediaPipeDetector(mediapipe_file)
    report = compare(
        lambda batch: [to_numpy(found) for found in predictor(batch)],
        mediapipe,
        images,
        model.size,
        cfg.threshold,
    )
    options = f"MediaPipe options: score_threshold=None, max_results=None (the file's op: " \
        f"{model.postprocess_config})"  # fmt: skip
    print(options)
    for line in report.lines(cfg.threshold):
        print(line)
    raw = metadata_for(model, checkpoint.categories, checkpoint.model_config, {}, "raw")
    litert = LiteRTDetector(export_tflite(model, raw), cfg.threads)
    ours_on_file = LiteRTDetector(mediapipe_file, cfg.threads)
    arrays = [image.numpy() for image in images[:5]]
    at_threshold = MediaPipeDetector(predict_file)
    medians = interleaved(
        {
            "MediaPipe ObjectDetector, end to end": lambda: mediapipe(arrays),
            f"the same, the op's score threshold {cfg.threshold}": lambda: at_threshold(arrays),
            "our LiteRT path (raw heads + numpy decoder)": lambda: litert(arrays),
            "our LiteRT runtime on the MediaPipe file": lambda: ours_on_file(arrays),
        },
        cfg.rounds,
    )
    base = medians["our LiteRT path (raw heads + numpy decoder)"]
    for name, seconds in medians.items():
        print(f"{name}: {seconds / len(arrays) * 1e3:.2f} ms/image ({seconds / base:.2f}×)")


if __name__ == "__main__":
    main(sys.argv[1:])
