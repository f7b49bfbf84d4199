"""``detect.Model``, the one object: its detections equal ``tools/predict.py``'s JSON records
on the pytorch, onnxruntime and litert backends; an array equals its file; a clip streams one
Detections per frame; tracking, validation, export and training go through the same library
as the command."""

from __future__ import annotations

import json
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.tools import output, run_tool

from detect import Detections, Model
from detect.errors import ConfigError

THRESH = "0.02"  # the tiny trained-like model's best scores are ~0.07: a few boxes an image


@pytest.fixture(scope="module")
def image(coco_val_dir: Path) -> Path:
    return sorted(coco_val_dir.glob("*.jpg"))[0]


def tool_record(ckpt: Path, backend: str, image: Path, out: Path) -> dict:
    result = run_tool(
        "predict", f"ckpt={ckpt}", f"source={image}", f"backend={backend}",
        f"score_thresh={THRESH}", f"output_dir={out}", "save_images=false", "threads=1",
    )  # fmt: skip
    assert result.returncode == 0, output(result)[-3000:]
    (line,) = (out / "detections.jsonl").read_text().splitlines()
    return json.loads(line)


def assert_same(found: Detections, records: list[dict]) -> None:
    """Equal after the record's rounding: same ids, boxes ±0.01 px, scores ±1e-4."""
    mine = found.to_records()
    assert len(mine) == len(records) > 0
    for a, b in zip(mine, records, strict=True):
        assert (a["category_id"], a["label"]) == (b["category_id"], b["label"])
        assert np.allclose(a["box"], b["box"], atol=0.01) and abs(a["score"] - b["score"]) <= 1e-4


@pytest.mark.slow
def test_predict_equals_the_tools_records_on_every_backend(trained_like_ckpt, image, tmp_path):
    tflite = Model(trained_like_ckpt, backend="pytorch").export(
        format="tflite", **{"check.count": 2}
    )
    assert tflite.suffix == ".tflite" and tflite.is_file()
    for backend, weights in (
        ("pytorch", trained_like_ckpt),
        ("onnxruntime", trained_like_ckpt),
        ("litert", tflite),
    ):
        record = tool_record(weights, backend, image, tmp_path / backend)
        model = Model(weights, backend=backend)
        assert model.backend == backend
        (found,) = model.predict(image, score_thresh=float(THRESH))
        assert_same(found, record["detections"])
        (from_array,) = model.predict(cv2.imread(str(image)), score_thresh=float(THRESH))
        assert np.array_equal(from_array.xyxy, found.xyxy), backend
        assert np.array_equal(from_array.scores, found.scores), backend


def test_an_array_equals_its_file_and_options_filter(trained_like_ckpt, image):
    model = Model(trained_like_ckpt, backend="pytorch")
    (found,) = model.predict(image, score_thresh=0.0)
    (same,) = model(cv2.imread(str(image)), score_thresh=0.0)
    assert len(found) > 3 and np.array_equal(same.xyxy, found.xyxy)
    assert np.array_equal(same.class_ids, found.class_ids)
    (best,) = model.predict(image, score_thresh=0.0, max_detections=3)
    assert np.array_equal(best.scores, found.scores[np.argsort(-found.scores)[:3]])
    name = model.names[int(found.class_ids[0])]
    (one_class,) = model.predict(image, score_thresh=0.0, classes=[name])
    assert set(one_class.class_ids.tolist()) == {int(found.class_ids[0])}
    with pytest.raises(ConfigError, match="'zebra' is not one of the model's categories"):
        model.predict(image, classes=["zebra"])
    with pytest.raises(ConfigError, match="live source and never ends: pass stream=True"):
        model.predict("rtsp://127.0.0.1:9/live")
    with pytest.raises(ConfigError, match=r"uint8 \(H, W, 3\) BGR"):
        model.predict(np.zeros((10, 10), np.float32))


def test_a_clip_streams_one_detections_per_frame(tiny_ckpt, short_clip):
    frames = Model(tiny_ckpt, backend="pytorch").predict(short_clip, stream=True, max_frames=20)
    assert isinstance(frames, types.GeneratorType)
    found = list(frames)
    assert len(found) == 20 and all(isinstance(d, Detections) for d in found)


def test_track_gives_predicts_records_with_track_ids(trained_like_ckpt, short_clip):
    results = Model(trained_like_ckpt, backend="pytorch").track(
        short_clip, score_thresh=0.02, max_frames=5
    )
    assert [r.frame.index for r in results] == list(range(5))
    record = results[-1].record()
    assert record["source"] == str(short_clip) and record["width"] == 480
    assert results[-1].detections.track_ids is not None
    assert all("track_id" in d for d in record["detections"])


def test_val_scores_the_set_the_model_was_trained_on(tiny_ckpt):
    metrics = Model(tiny_ckpt, backend="pytorch").val(progress=False)
    assert {"AP", "AP50", "AR100"} <= set(metrics) and 0.0 <= metrics["AP50"] <= 1.0


@pytest.mark.slow
def test_train_then_fine_tune_from_the_loaded_weights(tiny_shapes, tmp_path):
    first = Model.train(
        "debug=tiny", f"data.root={tiny_shapes}", runs_dir=str(tmp_path), run_name="a"
    )
    assert first.run_dir == tmp_path / "a" and first.last.is_file() and first.best.is_file()
    assert "val/AP" in first.metrics
    tuned = Model(first.last, backend="pytorch").train(
        "debug=tiny", **{"data.root": str(tiny_shapes), "trainer.max_epochs": 1},
        runs_dir=str(tmp_path), run_name="b",
    )  # fmt: skip
    assert tuned.last.is_file() and tuned.run_dir.name == "b"


def test_one_default_score_threshold_for_the_object_and_the_command():
    from support.configs import compose_config

    from detect.inference.detections import DEFAULT_SCORE_THRESH

    assert compose_config("predict", ["ckpt=x", "source=y"]).score_thresh == DEFAULT_SCORE_THRESH
