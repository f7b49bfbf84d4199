"""Detection sets on the real COCO subset's val images, in COCO results format, and pycocotools
run on them directly (the reference every evaluation test compares with).

``REAL_DETECTIONS``: the detections (score ≥ 0.05, boxes to 0.1 px) of a real checkpoint — a
V3-Small ×1.0 SSDLite at 256 px trained 39 epochs on these very 158 images (AP 0.63, AP50 0.83),
the only way to a non-trivial COCO detector offline — made with ``python tools/train.py
data=coco_subset data.train.image_dir='${data.root}/val2017'
data.train.annotation_file='${data.root}/annotations/instances_val2017.json' model.size=256
backbone.width_mult=1.0 loader.batch_size=16 augment=none`` and ``python tools/eval.py
ckpt=<its best-epoch039.ckpt>``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

REAL_DETECTIONS = (
    Path(__file__).parents[1] / "evaluation" / "data" / "coco_subset_val_detections.json.gz"
)


def real_detections() -> list[dict]:
    return json.loads(gzip.decompress(REAL_DETECTIONS.read_bytes()))


def ground_truth_results(coco: COCO, score: float = 1.0) -> list[dict]:
    """Every non-crowd box as a detection of its own class."""
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": a["bbox"],
            "score": score,
        }
        for a in sorted(coco.anns.values(), key=lambda a: a["id"])
        if not a["iscrowd"]
    ]


def noisy_detections(coco: COCO, seed: int = 0) -> list[dict]:
    """A simulated detector on the real boxes: most found with jittered boxes (some badly),
    some with another class, some twice, and a few spurious boxes per image; scores from
    box quality and chance."""
    rng = np.random.default_rng(seed)
    categories = sorted(coco.getCatIds())
    results = []
    for a in sorted(coco.anns.values(), key=lambda a: a["id"]):
        if a["iscrowd"] or rng.random() < 0.15:
            continue
        for copy in range(1 + (rng.random() < 0.15)):
            x, y, w, h = a["bbox"]
            noise = rng.normal(0, 0.15, 4) * (1 + 2 * (rng.random() < 0.2))
            box = [x + noise[0] * w, y + noise[1] * h, w * np.exp(noise[2]), h * np.exp(noise[3])]
            label = a["category_id"] if rng.random() > 0.08 else int(rng.choice(categories))
            score = float(np.clip(rng.uniform(0.3, 1.0) - np.abs(noise).sum() / 2, 0.01, 1))
            results.append(
                {
                    "image_id": a["image_id"],
                    "category_id": label,
                    "bbox": box,
                    "score": score * (0.6 if copy else 1.0),
                }
            )
    for image_id, info in coco.imgs.items():
        for _ in range(3):
            w, h = rng.uniform(0.05, 0.4) * info["width"], rng.uniform(0.05, 0.4) * info["height"]
            x, y = rng.uniform(0, info["width"] - w), rng.uniform(0, info["height"] - h)
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(rng.choice(categories)),
                    "bbox": [x, y, w, h],
                    "score": float(rng.uniform(0.01, 0.6)),
                }
            )
    return results


def without(coco: COCO, removed: Iterable[int]) -> COCO:
    """A new index of ``coco``'s dict less the annotations ``removed``."""
    removed = set(removed)
    kept = COCO()
    kept.dataset = dict(
        coco.dataset, annotations=[a for a in coco.dataset["annotations"] if a["id"] not in removed]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        kept.createIndex()
    return kept


def pycocotools_eval(coco: COCO, results: list[dict], **params) -> COCOeval:
    """pycocotools' COCOeval of ``results`` on every image of ``coco``, accumulated; ``params``
    override its parameters (``catIds=[…]``, …); summarised (``stats``) when there are none."""
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(coco, coco.loadRes([dict(r) for r in results]), "bbox")
        evaluation.params.imgIds = sorted(coco.getImgIds())
        for key, value in params.items():
            setattr(evaluation.params, key, value)
        evaluation.evaluate()
        evaluation.accumulate()
        if not params:
            evaluation.summarize()
    return evaluation
