"""``detect bench score_thresh=…``: every backend of the model runs at the one threshold asked
(predict's 0.3, eval's 0.001), agrees with PyTorch there, and the report records it."""

from __future__ import annotations

import pytest

from detect.errors import ConfigError
from detect.evaluation.backend_runners import Backends
from detect.evaluation.bench import bench


def detections_at(ckpt, images_dir, threshold) -> int:
    """Bench the checkpoint at ``threshold``: every row equal to PyTorch; the detections paired."""
    report = bench(
        ckpt=ckpt,
        num_threads=1,
        warmup=0,
        runs=1,
        images_dir=images_dir,
        backends=Backends(["pytorch", "onnxruntime", "onnxruntime_raw"]),
        score_thresh=threshold,
    )
    assert report.settings["score_thresh"] == (0.001 if threshold is None else threshold)
    rows = [row for row in report.rows if "network only" not in row.name]
    assert len(rows) == 3
    for row in rows:
        assert row.parity.startswith("equal ("), (row.name, row.parity)
    return int(rows[1].parity.split("(")[1].split(" det")[0])


def test_bench_runs_every_backend_at_the_threshold_asked(trained_like_ckpt, coco_val_dir):
    # the trained-like weights top out near 0.07: 0.02 keeps a few per image
    above = detections_at(trained_like_ckpt, coco_val_dir, 0.02)
    assert 0 < above < detections_at(trained_like_ckpt, coco_val_dir, None)


def test_an_out_of_range_threshold_is_refused():
    with pytest.raises(ConfigError, match=r"score_thresh=1.5: a score threshold is in \[0, 1\)"):
        bench(score_thresh=1.5, images_dir=None)
