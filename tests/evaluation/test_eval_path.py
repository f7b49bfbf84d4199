"""The eval path end to end: a detector run over a dataset through a DataLoader, pycocotools'
metrics, the per-category table, and the eval tool's errors for bad input."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from support.checkpoints import make_checkpoint
from support.tools import assert_one_line_error, run_tool
from torch import Tensor

from detect.data.coco import CocoDetection
from detect.evaluation.evaluate import evaluate


class GroundTruthDetector:
    """Answers each batch with the dataset's own boxes, in loader order (no shuffling)."""

    def __init__(self, dataset: CocoDetection) -> None:
        self.records = iter(dataset.records)
        self.batch_sizes: list[int] = []

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        self.batch_sizes.append(len(images))
        answers = []
        for image in images:
            record = next(self.records)
            assert tuple(image.shape[1:]) == (record.height, record.width)  # untransformed
            answers.append(
                {
                    "boxes": torch.from_numpy(record.boxes),
                    "labels": torch.from_numpy(record.labels),
                    "scores": torch.ones(len(record.labels)),
                }
            )
        return answers


def test_ground_truth_through_the_eval_path_scores_ap_one(coco_val_set):
    detector = GroundTruthDetector(coco_val_set)
    evaluator = evaluate(detector, coco_val_set, batch_size=16, num_workers=1, progress=False)
    metrics, _ = evaluator.compute()
    assert metrics["AP"] == pytest.approx(1.0) and metrics["AP50"] == pytest.approx(1.0)
    assert sum(detector.batch_sizes) == len(coco_val_set) == 158
    assert max(detector.batch_sizes) == 16
    table = evaluator.per_category()
    present = {
        coco_val_set.categories.names[label - 1] for r in coco_val_set.records for label in r.labels
    }
    assert {name for name, (ap, _) in table.items() if ap == pytest.approx(1.0)} == present
    assert all(ap != ap for name, (ap, _) in table.items() if name not in present)  # NaN


def run_eval(*overrides: str):
    return run_tool("eval", *overrides, timeout=120)


@pytest.mark.slow
def test_eval_tool_errors_name_the_problem(tmp_path):
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    assert_one_line_error(run_eval(f"ckpt={foreign}"), "is not a detect checkpoint")
    assert_one_line_error(run_eval(f"ckpt={tmp_path / 'none.ckpt'}"), "checkpoint not found")


@pytest.mark.slow
def test_eval_tool_refuses_a_missing_dataset_and_other_categories(tmp_path, coco_val_dir):
    checkpoint = make_checkpoint(tmp_path / "shapes.ckpt", tmp_path / "shapes")
    assert_one_line_error(
        run_eval(f"ckpt={checkpoint}", "data=coco", f"data.root={tmp_path / 'nowhere'}"),
        "image folder not found",
        "nowhere",
    )
    assert_one_line_error(
        run_eval(f"ckpt={checkpoint}", "data=coco_subset", f"data.root={coco_val_dir.parent}"),
        "categories do not match",
        "circle, square, triangle",
    )
    result = run_eval(f"ckpt={checkpoint}", "per_category=true", f"output_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr
    assert "| circle |" in result.stdout and "6 images scored" in result.stdout
    assert (tmp_path / "out" / "detections.json").is_file()


@pytest.mark.slow
def test_a_recorded_dataset_that_is_gone_is_an_error_not_a_new_dataset(tmp_path):
    shapes = tmp_path / "shapes"
    checkpoint = make_checkpoint(tmp_path / "shapes.ckpt", shapes)
    moved = tmp_path / "moved"
    shapes.rename(moved)
    assert_one_line_error(
        run_eval(f"ckpt={checkpoint}"), "does not exist here", "data=<name>", str(shapes)
    )
    assert not shapes.exists()  # nothing generated at the recorded path
