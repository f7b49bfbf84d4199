"""The mAP-vs-latency report: the front, checkpoint discovery, and the files it writes."""

from __future__ import annotations

import csv

import cv2
import pytest
import torch
from support.checkpoints import make_checkpoint

from detect.errors import CheckpointError
from detect.evaluation.evaluate import evaluate, model_dataset
from detect.evaluation.pareto import ModelPoint, find_checkpoints, pareto_front, pareto_report
from detect.models.predictor import Predictor
from detect.weights.checkpoint import load_checkpoint


def point(name: str, latency: float, ap: float | None) -> ModelPoint:
    return ModelPoint(name, 1, 1, latency, latency, ap, ap)


def test_front_keeps_points_no_faster_model_beats():
    points = [
        point("fast", 5, 0.20),
        point("slow-better", 20, 0.30),
        point("dominated", 25, 0.25),
        point("tie-faster", 5, 0.10),
        point("cost-only", 1, None),
        point("best", 30, 0.40),
    ]
    assert pareto_front(points) == [True, True, False, False, False, True]


def test_checkpoints_are_found_from_files_run_dirs_and_globs(tmp_path):
    for run, names in {"a": ["best-epoch001.ckpt", "last.ckpt"], "b": ["last.ckpt"]}.items():
        (tmp_path / run / "checkpoints").mkdir(parents=True)
        for name in names:
            (tmp_path / run / "checkpoints" / name).write_bytes(b"")
    (tmp_path / "multirun.yaml").write_text("a sweep's record, not a run")
    found = find_checkpoints([str(tmp_path / "*")])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/checkpoints/best-epoch001.ckpt",
        "b/checkpoints/last.ckpt",
    ]
    assert find_checkpoints([str(found[1])]) == [found[1]]
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no checkpoints"):
        find_checkpoints([str(tmp_path / "empty")])
    with pytest.raises(CheckpointError, match="missing"):
        find_checkpoints([str(tmp_path / "missing")])


@pytest.mark.slow
def test_report_writes_table_csv_and_plot_with_measured_map(tmp_path):
    shapes = tmp_path / "shapes"
    checkpoints = [
        make_checkpoint(tmp_path / "small.ckpt", shapes, "v3_small"),
        make_checkpoint(tmp_path / "v2.ckpt", shapes, "v2"),
    ]
    images = [torch.randint(0, 256, (3, 120, 160), dtype=torch.uint8)]
    points, markdown = pareto_report(
        checkpoints,
        [("v1", 0.25, 96)],
        images,
        tmp_path / "out",
        warmup=0,
        runs=2,
        backends=("pytorch", "onnxruntime"),
    )
    assert [p.name for p in points] == [
        "v3_small ×0.25 96px",
        "v3_small ×0.25 96px [onnxruntime]",
        "v2 ×0.25 96px",
        "v2 ×0.25 96px [onnxruntime]",
        "v1 ×0.25 96px (untrained, 91 classes)",
    ]
    for pair in (points[0:2], points[2:4]):  # the same checkpoint on two backends (untrained:
        # tied scores, so which tied boxes each NMS keeps differs a little)
        assert pair[1].ap == pytest.approx(pair[0].ap, abs=1e-3) and pair[1].latency_ms > 0
    for checkpoint_file, measured in zip(checkpoints, points[::2], strict=False):
        checkpoint = load_checkpoint(checkpoint_file)
        dataset = model_dataset(
            checkpoint.categories, checkpoint.run_config, None, "val", str(checkpoint_file)
        )
        metrics, _ = evaluate(Predictor(checkpoint.model), dataset, progress=False).compute()
        assert measured.ap == metrics["AP"] and measured.ap50 == metrics["AP50"]
        assert measured.latency_ms > 0 and measured.madds > 0
    assert points[4].ap is None and "| v1 ×0.25 96px (untrained, 91 classes) |" in markdown
    with open(tmp_path / "out" / "pareto.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["model"] for row in rows] == [p.name for p in points]
    assert rows[4]["AP"] == "—" and any(row["front"] == "★" for row in rows)
    plot = cv2.imread(str(tmp_path / "out" / "pareto.png"))
    assert plot is not None and plot.shape[1] > plot.shape[0] > 300  # two panels side by side
