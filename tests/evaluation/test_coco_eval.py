"""Our eval path scores the ground truth as perfect: ids, labels and box format end to end."""

import json
from pathlib import Path

import pytest
import torch

from detect.data.coco import CocoDetection
from detect.evaluation.coco_eval import CocoEvaluator

SUBSET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_subset"


@pytest.fixture(scope="module")
def val_set() -> CocoDetection:
    if not SUBSET.is_dir():
        pytest.skip(f"real data not found at {SUBSET}: check out ../shared beside the project")
    return CocoDetection(SUBSET / "val2017", SUBSET / "annotations" / "instances_val2017.json")


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


def test_ground_truth_scores_ap_one(val_set, tmp_path):
    evaluator = CocoEvaluator(val_set.coco, val_set.categories)
    evaluator.update(*ground_truth_as_detections(val_set))
    metrics, summary = evaluator.compute()
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["AP50"] == pytest.approx(1.0)
    assert summary.startswith(" Average Precision  (AP) @[ IoU=0.50:0.95")
    evaluator.write(tmp_path / "results.json", tmp_path / "metrics.json", metrics)
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["category_id"] for r in results} <= set(val_set.categories.coco_ids)
    assert json.loads((tmp_path / "metrics.json").read_text())["AP"] == pytest.approx(1.0)


def test_shifted_boxes_and_wrong_labels_score_lower(val_set):
    ids, detections = ground_truth_as_detections(val_set)
    for found in detections:
        found["boxes"] = found["boxes"] + 8.0  # shift every box by 8 px
    evaluator = CocoEvaluator(val_set.coco, val_set.categories)
    evaluator.update(ids, detections)
    assert evaluator.compute()[0]["AP"] < 0.9
    for found in detections:
        found["labels"] = found["labels"] % 80 + 1  # every label wrong
    wrong = CocoEvaluator(val_set.coco, val_set.categories)
    wrong.update(ids, detections)
    assert wrong.compute()[0]["AP"] < 0.05
