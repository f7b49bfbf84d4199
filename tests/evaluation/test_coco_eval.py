"""Our eval path scores the ground truth as perfect (ids, labels and box format end to end), and
the fast backend gives pycocotools' numbers."""

import importlib.util
import json

import pytest
import torch
from support.detections import real_detections

from detect.data.coco import CocoDetection
from detect.errors import ConfigError
from detect.evaluation.coco_eval import CocoEvaluator, resolve_backend


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


def test_the_fast_backend_gives_pycocotools_numbers_on_real_detections(coco_val_set):
    pytest.importorskip("faster_coco_eval")
    scored = {}
    for backend in ("pycocotools", "faster_coco_eval"):
        evaluator = CocoEvaluator(coco_val_set.coco, coco_val_set.categories, backend)
        evaluator.results = real_detections()
        evaluator.image_ids = set(coco_val_set.coco.getImgIds())
        metrics, summary = evaluator.compute()
        scored[backend] = metrics, summary, evaluator.per_category()
    (ours, summary, table), (fast, fast_summary, fast_table) = scored.values()
    assert 0.5 < ours["AP"] < 0.9  # a real, imperfect detector
    assert ours == pytest.approx(fast, abs=1e-6)  # all twelve numbers
    assert summary == fast_summary
    assert table.keys() == fast_table.keys()
    for name, aps in table.items():
        assert aps == pytest.approx(fast_table[name], abs=1e-6, nan_ok=True), name


def test_the_backend_is_chosen_by_what_is_installed():
    expected = "faster_coco_eval" if importlib.util.find_spec("faster_coco_eval") else "pycocotools"
    assert resolve_backend("auto") == expected
    assert resolve_backend("pycocotools") == "pycocotools"
    with pytest.raises(ConfigError, match="choose one of auto, pycocotools, faster_coco_eval"):
        resolve_backend("fast")
