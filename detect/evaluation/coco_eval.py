"""COCO mAP through pycocotools: detections in, the official summary out.

The ground truth is indexed once (the dataset's own ``COCO`` object), never rebuilt per call —
torchvision's ``convert_to_coco_api`` rebuilds it and took 20 minutes on 670 images (vision #1888).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor
from torchvision.ops import box_convert

from detect.data.categories import CategoryMap
from detect.io import atomic_write

METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


class CocoEvaluator:
    """Collects detections (contiguous labels, xyxy pixels) and scores them with COCOeval."""

    def __init__(self, ground_truth: COCO, categories: CategoryMap) -> None:
        self.ground_truth = ground_truth
        self.categories = categories
        self.results: list[dict] = []
        self.image_ids: set[int] = set()
        self.evaluation: COCOeval | None = None  # the last compute()'s, for per-category AP

    def reset(self) -> None:
        """Forget the detections collected so far (e.g. between validation epochs)."""
        self.results, self.image_ids = [], set()

    def update(self, image_ids: list[int], detections: list[dict[str, Tensor]]) -> None:
        """Add a batch: per image ``boxes`` (D, 4) xyxy original pixels, ``scores``, ``labels``."""
        coco_ids = np.asarray((0, *self.categories.coco_ids))
        for image_id, found in zip(image_ids, detections, strict=True):
            self.image_ids.add(int(image_id))
            boxes = box_convert(found["boxes"].detach().cpu(), "xyxy", "xywh").tolist()
            scores = found["scores"].detach().cpu().tolist()
            labels = coco_ids[found["labels"].detach().cpu().numpy()].tolist()
            self.results += [
                {"image_id": int(image_id), "category_id": label, "bbox": box, "score": score}
                for box, score, label in zip(boxes, scores, labels, strict=True)
            ]

    def compute(self) -> tuple[dict[str, float], str]:
        """The twelve COCO metrics over the images seen, and pycocotools' printed summary."""
        if not self.results:
            return dict.fromkeys(METRICS, 0.0), "no detections"
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            detections = self.ground_truth.loadRes(self.results)
            evaluation = COCOeval(self.ground_truth, detections, iouType="bbox")
            evaluation.params.imgIds = sorted(self.image_ids)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        self.evaluation = evaluation
        summary = printed.getvalue()
        summary = summary[summary.index(" Average Precision") :]
        return dict(zip(METRICS, map(float, evaluation.stats), strict=True)), summary

    def per_category(self) -> dict[str, tuple[float, float]]:
        """(AP, AP50) per category name from the last :meth:`compute`, area "all", 100
        detections (pycocotools' ``precision`` array: IoU × recall × category × area × dets);
        NaN for a category without ground truth in the images seen."""
        if self.evaluation is None:
            raise RuntimeError("call compute() first")
        precision = self.evaluation.eval["precision"][:, :, :, 0, -1]
        table = {}
        for index, name in enumerate(self.categories.names):
            at_all, at_50 = precision[:, :, index], precision[0, :, index]
            table[name] = (mean_valid(at_all), mean_valid(at_50))
        return table

    def write(self, results_file: Path, metrics_file: Path, metrics: dict[str, float]) -> None:
        """Detections in COCO results format and the metrics, as json."""
        atomic_write(results_file, json.dumps(self.results))
        atomic_write(metrics_file, json.dumps(metrics, indent=2))


def mean_valid(precision: np.ndarray) -> float:
    """Mean over entries pycocotools computed (-1 marks "no ground truth")."""
    valid = precision[precision > -1]
    return float(valid.mean()) if valid.size else float("nan")
