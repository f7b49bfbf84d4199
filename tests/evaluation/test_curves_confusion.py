"""PR curves read from COCOeval (their areas are pycocotools' APs) and the confusion matrix
(ground truth fed back is diagonal; swapped labels move exactly the swapped counts)."""

from __future__ import annotations

import contextlib
import csv
import io

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval
from support.detections import ground_truth_results, real_detections

from detect.evaluation.coco_eval import CocoEvaluator
from detect.evaluation.confusion import BACKGROUND, confusion_matrix, write_confusion_csv
from detect.evaluation.curves import OVERALL, pr_curves, write_curves_csv


def evaluator_of(dataset, results, backend):
    evaluator = CocoEvaluator(dataset.coco, dataset.categories, backend)
    evaluator.results, evaluator.image_ids = list(results), set(dataset.coco.getImgIds())
    return evaluator


@pytest.fixture(scope="module")
def aps_alone(coco_val_set) -> dict[int, tuple[float, float]]:
    """(AP50, AP75) of the checkpoint's detections per category, pycocotools run on that
    category alone (-1: no ground truth in these images)."""
    truth = coco_val_set.coco
    detections = truth.loadRes(real_detections())
    aps = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for coco_id in sorted(truth.getCatIds()):
            alone = COCOeval(truth, detections, "bbox")
            alone.params.catIds = [coco_id]
            alone.evaluate()
            alone.accumulate()
            alone.summarize()
            aps[coco_id] = (alone.stats[1], alone.stats[2])
    return aps


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_pr_curve_areas_are_pycocotools_aps(coco_val_set, aps_alone, tmp_path, backend):
    if backend == "faster_coco_eval":
        pytest.importorskip("faster_coco_eval")
    evaluator = evaluator_of(coco_val_set, real_detections(), backend)
    metrics, _ = evaluator.compute()
    curves = pr_curves(evaluator.evaluation, coco_val_set.categories)
    write_curves_csv(curves, tmp_path / "pr.csv")
    areas: dict[tuple[float, str], list[float]] = {}
    with open(tmp_path / "pr.csv") as file:  # the areas of the curves as written
        for row in csv.DictReader(file):
            areas.setdefault((float(row["iou"]), row["category"]), []).append(
                float(row["precision"])
            )
    assert {len(v) for v in areas.values()} == {101}
    assert np.mean(areas[0.5, OVERALL]) == pytest.approx(metrics["AP50"], abs=1e-6)
    assert np.mean(areas[0.75, OVERALL]) == pytest.approx(metrics["AP75"], abs=1e-6)
    # each category's curve against pycocotools run on that category alone
    names = dict(zip(coco_val_set.categories.coco_ids, coco_val_set.categories.names, strict=True))
    checked = 0
    for coco_id, (ap50, ap75) in aps_alone.items():
        name = names[coco_id]
        if ap50 < 0:  # no ground truth in these images: no curve
            assert (0.5, name) not in areas
            continue
        assert np.mean(areas[0.5, name]) == pytest.approx(ap50, abs=1e-6), name
        assert np.mean(areas[0.75, name]) == pytest.approx(ap75, abs=1e-6), name
        checked += 1
    assert checked == len(curves.precision[0.5]) - 1 > 50


def test_ground_truth_fed_back_gives_a_diagonal_confusion_matrix(coco_val_set, tmp_path):
    truth, categories = coco_val_set.coco, coco_val_set.categories
    matrix = confusion_matrix(truth, ground_truth_results(truth), truth.getImgIds(), categories)
    per_class = np.bincount(
        [categories.label(a["category_id"]) - 1 for a in truth.anns.values() if not a["iscrowd"]],
        minlength=len(categories.names),
    )
    assert np.array_equal(matrix, np.diag([*per_class, 0]))
    write_confusion_csv(matrix, categories, tmp_path / "confusion.csv")
    rows = list(csv.reader((tmp_path / "confusion.csv").read_text().splitlines()))
    assert rows[0][1:] == [*categories.names, BACKGROUND] and rows[-1][0] == BACKGROUND
    assert np.array_equal(np.array([[int(v) for v in row[1:]] for row in rows[1:]]), matrix)


def test_swapped_labels_move_exactly_the_swapped_counts(coco_val_set):
    truth, categories = coco_val_set.coco, coco_val_set.categories
    results = ground_truth_results(truth)
    swaps: dict[tuple[int, int], int] = {}
    for index, result in enumerate(results):
        present = {a["category_id"] for a in truth.imgToAnns[result["image_id"]]}
        absent = [c for c in categories.coco_ids if c not in present]
        if index % 4 == 0:  # a class the image does not hold: the swap has one reading
            swapped = absent[index % len(absent)]
            key = (categories.label(result["category_id"]) - 1, categories.label(swapped) - 1)
            swaps[key] = swaps.get(key, 0) + 1
            result["category_id"] = swapped
    clean = confusion_matrix(truth, ground_truth_results(truth), truth.getImgIds(), categories)
    matrix = confusion_matrix(truth, results, truth.getImgIds(), categories)
    moved = matrix - clean
    for (row, column), count in swaps.items():
        assert moved[row, column] == count
        moved[row, column] = 0
        moved[row, row] += count
    assert not moved.any()  # nothing else changed: no background counts, no other cells
    assert sum(swaps.values()) > 100
