"""Our eval path scores the ground truth as perfect: ids, labels and box format end to end."""

import json

import pytest
import torch

from detect.data.coco import CocoDetection
from detect.evaluation.coco_eval import CocoEvaluator


def ground_truth_as_detections(dataset: CocoDetection) -> tuple[list[int], list[dict]]:
    ids, detections = [], []
    for record in dataset.records:
        ids.append(record.image_id)
        detections.append(
            {
                "boxes": torch.from_numpy(record.boxes),
                "labels": torch.from_numpy(record.labels),
                "scores": torch.ones(len(record.labels)),
            }
        )
    return ids, detections


def test_ground_truth_scores_ap_one(coco_val_set, tmp_path):
    evaluator = CocoEvaluator(coco_val_set.coco, coco_val_set.categories)
    evaluator.update(*ground_truth_as_detections(coco_val_set))
    metrics, summary = evaluator.compute()
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AP50"] == pytest.approx(1.0)
    assert summary.startswith(" Average Precision  (AP) @[ IoU=0.50:0.95")
    evaluator.write(tmp_path / "results.json", tmp_path / "metrics.json", metrics)
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["category_id"] for r in results} <= set(coco_val_set.categories.coco_ids)
    assert json.loads((tmp_path / "metrics.json").read_text())["AP"] == pytest.approx(1.0)


def test_shifted_boxes_and_wrong_labels_score_lower(coco_val_set):
    ids, detections = ground_truth_as_detections(coco_val_set)
    for found in detections:
        found["boxes"] = found["boxes"] + 8.0  # shift every box by 8 px
    evaluator = CocoEvaluator(coco_val_set.coco, coco_val_set.categories)
    evaluator.update(ids, detections)
    assert evaluator.compute()[0]["AP"] < 0.9
    for found in detections:
        found["labels"] = found["labels"] % 80 + 1  # every label wrong
    wrong = CocoEvaluator(coco_val_set.coco, coco_val_set.categories)
    wrong.update(ids, detections)
    assert wrong.compute()[0]["AP"] < 0.05
