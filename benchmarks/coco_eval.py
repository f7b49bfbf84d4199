"""tools/bench_eval.py: COCO evaluation time, pycocotools against faster-coco-eval, through the
same :class:`~detect.evaluation.coco_eval.CocoEvaluator` on a large synthetic set.

The set is made here, seeded: ``images`` images of 640×480 with a Poisson number of boxes
(mean ``boxes_per_image``) of 80 classes, and ``detections_per_image`` detections each — every
box found with probability 0.8 (jittered, now and then with the wrong class, lower scores for
worse boxes), the rest random boxes of random classes with low scores, as a detector's score
threshold of 0.001 leaves them. Each repeat scores it with a fresh evaluator per backend (so the
fast backend's index of the ground truth is built, as it is once per evaluation), the backends
interleaved; the table gives the median seconds, the ratio, and the largest difference of the
twelve numbers and of any per-category AP between the two.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from pycocotools.coco import COCO

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, install_hint
from detect.evaluation.coco_eval import CocoEvaluator, fast_backend_installed
from detect.io import atomic_write

BACKENDS = ("pycocotools", "faster_coco_eval")
WIDTH, HEIGHT = 640, 480


def synthetic_set(
    images: int, boxes_per_image: float, detections_per_image: int, seed: int = 0
) -> tuple[COCO, CategoryMap, list[dict]]:
    """The ground truth (a pycocotools index), its categories and the detections."""
    rng = np.random.default_rng(seed)
    categories = [{"id": k + 1, "name": f"class{k + 1}"} for k in range(80)]
    annotations, results = [], []
    for image_id in range(1, images + 1):
        count = rng.poisson(boxes_per_image)
        size = rng.uniform(0.05, 0.5, (count, 2)) * (WIDTH, HEIGHT)
        corner = rng.uniform(0, 1, (count, 2)) * ((WIDTH, HEIGHT) - size)
        labels = rng.integers(1, 81, count)
        first = len(results)
        for box, label in zip(np.hstack([corner, size]), labels, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": box.tolist(),
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
            if rng.random() < 0.8:
                noise = rng.normal(0, 0.1, 4)
                found = box + noise * np.r_[box[2:], box[2:]]
                label = label if rng.random() > 0.1 else rng.integers(1, 81)
                score = float(np.clip(rng.uniform(0.3, 1.0) - np.abs(noise).sum(), 0.001, 1.0))
                results.append(
                    {
                        "image_id": image_id,
                        "category_id": int(label),
                        "bbox": found.tolist(),
                        "score": score,
                    }
                )
        for _ in range(max(0, detections_per_image - (len(results) - first))):
            w, h = rng.uniform(0.02, 0.6) * WIDTH, rng.uniform(0.02, 0.6) * HEIGHT
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(rng.integers(1, 81)),
                    "bbox": [rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h), w, h],
                    "score": float(rng.uniform(0.001, 0.3)),
                }
            )
    dataset = {
        "images": [
            {"id": i, "width": WIDTH, "height": HEIGHT, "file_name": f"{i}.jpg"}
            for i in range(1, images + 1)
        ],
        "annotations": annotations,
        "categories": categories,
    }
    truth = COCO()
    truth.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
    return truth, CategoryMap.from_coco(categories), results


@dataclass(frozen=True)
class Scored:
    """One backend's evaluation times (seconds per repeat) and its last numbers."""

    backend: str
    seconds: tuple[float, ...]
    metrics: dict[str, float]
    per_category: dict[str, tuple[float, float]]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def score(truth: COCO, categories: CategoryMap, results: list[dict], repeats: int) -> list[Scored]:
    """Each backend ``repeats`` times, interleaved (order reversed every other repeat)."""
    times: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    last: dict[str, tuple[dict, dict]] = {}
    image_ids = set(truth.getImgIds())
    for repeat in range(repeats):
        for backend in BACKENDS if repeat % 2 == 0 else BACKENDS[::-1]:
            evaluator = CocoEvaluator(truth, categories, backend)
            evaluator.results, evaluator.image_ids = results, image_ids
            start = time.perf_counter()
            metrics, _ = evaluator.compute()
            times[backend].append(time.perf_counter() - start)
            last[backend] = metrics, evaluator.per_category()
    return [Scored(b, tuple(times[b]), *last[b]) for b in BACKENDS]


def largest_difference(a: Scored, b: Scored) -> tuple[float, float]:
    """The largest |difference| of the twelve numbers, and of any per-category AP or AP50
    (both NaN — no ground truth — counts as equal)."""
    summary = max(abs(a.metrics[k] - b.metrics[k]) for k in a.metrics)
    pairs = np.array([a.per_category[name] for name in a.per_category], dtype=float)
    other = np.array([b.per_category[name] for name in a.per_category], dtype=float)
    both_nan = np.isnan(pairs) & np.isnan(other)
    per_category = float(np.where(both_nan, 0.0, np.abs(pairs - other)).max())
    return summary, per_category


def run_bench_eval(cfg: DictConfig) -> dict[str, float]:
    """Make the set, score it with both backends, print the table, write ``cfg.output``."""
    if cfg.images < 1 or cfg.repeats < 1:
        raise ConfigError(f"images and repeats must be ≥ 1, got {cfg.images} and {cfg.repeats}")
    if not fast_backend_installed():
        raise ConfigError(f"faster-coco-eval is not installed: {install_hint('fast')}")
    truth, categories, results = synthetic_set(
        cfg.images, cfg.boxes_per_image, cfg.detections_per_image, cfg.seed
    )
    slow, fast = score(truth, categories, results, cfg.repeats)
    summary_diff, category_diff = largest_difference(slow, fast)
    figures = {
        "images": cfg.images,
        "boxes": len(truth.anns),
        "detections": len(results),
        "pycocotools_s": slow.median,
        "faster_coco_eval_s": fast.median,
        "speedup": slow.median / fast.median,
        "AP": slow.metrics["AP"],
        "max_summary_difference": summary_diff,
        "max_per_category_difference": category_diff,
    }
    print(
        f"{cfg.images} synthetic images, {len(truth.anns)} boxes, {len(results)} detections; "
        f"median of {cfg.repeats}\n"
    )
    print("| backend | seconds (median) | per repeat | AP | AP50 |")
    print("|---|---|---|---|---|")
    for row in (slow, fast):
        repeats = ", ".join(f"{s:.2f}" for s in row.seconds)
        print(
            f"| {row.backend} | {row.median:.2f} | {repeats} | {row.metrics['AP']:.6f} | "
            f"{row.metrics['AP50']:.6f} |"
        )
    print(
        f"\nfaster_coco_eval is {figures['speedup']:.1f}× faster; largest difference: "
        f"{summary_diff:.1e} (twelve numbers), {category_diff:.1e} (per-category AP)"
    )
    if cfg.output:
        atomic_write(Path(cfg.output), json.dumps(figures, indent=2))
    return figures
