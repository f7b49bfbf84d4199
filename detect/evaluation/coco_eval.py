"""COCO mAP: detections in, the official summary out — through pycocotools, or through
``faster-coco-eval`` (the same COCOeval, its matching and accumulation in C++) when installed.

The ground truth is indexed once (the dataset's own ``COCO`` object, and for the fast backend one
index of the same dict), never rebuilt per call — torchvision's ``convert_to_coco_api`` rebuilds
it and took 20 minutes on 670 images (vision #1888). Both backends fill the same arrays
(``evaluation.eval["precision"]``: IoU × recall × category × area × max detections), so
everything read from them (per-category AP, PR curves) is backend-independent.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor
from torchvision.ops import box_convert

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, install_hint
from detect.io import atomic_write

METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
BACKENDS = ("auto", "pycocotools", "faster_coco_eval")
# pycocotools' summary lines: (kind, IoU, area, max detections) per metric, in METRICS' order
SUMMARY_LINES = (
    ("AP", "0.50:0.95", "all", 100),
    ("AP", "0.50", "all", 100),
    ("AP", "0.75", "all", 100),
    ("AP", "0.50:0.95", "small", 100),
    ("AP", "0.50:0.95", "medium", 100),
    ("AP", "0.50:0.95", "large", 100),
    ("AR", "0.50:0.95", "all", 1),
    ("AR", "0.50:0.95", "all", 10),
    ("AR", "0.50:0.95", "all", 100),
    ("AR", "0.50:0.95", "small", 100),
    ("AR", "0.50:0.95", "medium", 100),
    ("AR", "0.50:0.95", "large", 100),
)


def fast_backend_installed() -> bool:
    return importlib.util.find_spec("faster_coco_eval") is not None


def resolve_backend(backend: str) -> str:
    """``auto``: ``faster_coco_eval`` when installed, else ``pycocotools``."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"unknown COCO evaluation backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    if backend == "auto":
        return "faster_coco_eval" if fast_backend_installed() else "pycocotools"
    if backend == "faster_coco_eval" and not fast_backend_installed():
        raise ConfigError(
            "coco_backend=faster_coco_eval but faster-coco-eval is not installed: "
            f"{install_hint('fast')} (or coco_backend=pycocotools)"
        )
    return backend


def format_summary(stats: np.ndarray) -> str:
    """The twelve numbers as pycocotools' ``summarize()`` prints them."""
    lines = []
    for value, (kind, iou, area, dets) in zip(stats, SUMMARY_LINES, strict=True):
        title = "Average Precision" if kind == "AP" else "Average Recall"
        lines.append(
            f" {title:<18} ({kind}) @[ IoU={iou:<9} | area={area:>6s} | maxDets={dets:>3d} ] = "
            f"{value:0.3f}"
        )
    return "\n".join(lines) + "\n"


class CocoEvaluator:
    """Collects detections (contiguous labels, xyxy pixels) and scores them with COCOeval.

    ``backend``: ``auto`` (faster-coco-eval when installed), ``pycocotools`` or
    ``faster_coco_eval``; the twelve numbers and the accumulation arrays agree to 1e-6 (tested).
    """

    def __init__(self, ground_truth: COCO, categories: CategoryMap, backend: str = "auto") -> None:
        self.ground_truth = ground_truth
        self.categories = categories
        self.backend = resolve_backend(backend)
        self.results: list[dict] = []
        self.image_ids: set[int] = set()
        self.evaluation: Any = None  # the last compute()'s COCOeval, for its arrays

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

    @functools.cached_property
    def fast_ground_truth(self) -> Any:
        """faster-coco-eval's index of the same ground-truth dict, built on first use."""
        import faster_coco_eval

        return faster_coco_eval.COCO(self.ground_truth.dataset)

    def compute(self) -> tuple[dict[str, float], str]:
        """The twelve COCO metrics over the images seen, and pycocotools' printed summary."""
        results = [dict(r) for r in self.results]  # loadRes adds keys to what it is given
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            if not results:  # loadRes cannot take none: scored as pycocotools scores nothing,
                # 0 where there is ground truth and -1 where an area has none (not 0 for all)
                evaluation = COCOeval(self.ground_truth, self.no_detections(), iouType="bbox")
            elif self.backend == "faster_coco_eval":
                import faster_coco_eval

                truth = self.fast_ground_truth
                evaluation = faster_coco_eval.COCOeval_faster(
                    truth, truth.loadRes(results), "bbox", print_function=lambda *_: None
                )
            else:
                detections = self.ground_truth.loadRes(results)
                evaluation = COCOeval(self.ground_truth, detections, iouType="bbox")
            evaluation.params.imgIds = sorted(self.image_ids)
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        self.evaluation = evaluation
        stats = np.asarray(evaluation.stats[: len(METRICS)], dtype=float)
        return dict(zip(METRICS, map(float, stats), strict=True)), format_summary(stats)

    def no_detections(self) -> COCO:
        """An empty results set over the ground truth's images and categories."""
        empty = COCO()
        empty.dataset = {
            "images": self.ground_truth.dataset["images"],
            "categories": self.ground_truth.dataset["categories"],
            "annotations": [],
        }
        empty.createIndex()
        return empty

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
