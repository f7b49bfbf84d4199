"""The synthetic moving-shapes video: exact boxes and visibilities read from the drawn pixels,
seeded, with objects entering, leaving, occluding each other and crossing the line both ways;
the mp4 + MOTChallenge files; the COCO training set of other seeds' frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detect.data.moving_shapes import Scene, VideoConfig, generate_moving_shapes, write_video
from detect.data.registry import build_dataset
from detect.errors import DatasetError

SHORT = VideoConfig(frames=150, objects=8)


@pytest.fixture(scope="module")
def scene() -> Scene:
    return Scene(VideoConfig(), 1)  # a seed with shapes hiding each other


def test_the_same_seed_gives_the_same_video_and_other_seeds_differ():
    first, again, other = Scene(SHORT, 5), Scene(SHORT, 5), Scene(SHORT, 6)
    assert first.ground_truth() == again.ground_truth()
    image, _ = first.render(40, np.random.default_rng(1))
    assert np.array_equal(image, again.render(40, np.random.default_rng(1))[0])
    assert first.ground_truth() != other.ground_truth()


def test_boxes_and_visibility_are_those_of_the_drawn_pixels(scene):
    checked = partly = 0
    for frame in range(0, 500, 25):
        image, states = scene.render(frame, np.random.default_rng(frame))
        movers = {m.object_id: m for m in scene.movers}
        for state in states:
            own = np.all(image == movers[state.object_id].colour, axis=2).astype(np.uint8)
            x, y, w, h = cv2.boundingRect(own)
            if state.visibility == 1.0:  # nothing hides it: its pixels' tight box is the box
                assert (x, y, x + w, y + h) == state.box
                checked += 1
            else:
                partly += 1
                assert 0 < state.visibility < 1
                if own.any():  # what is seen lies inside the box
                    x1, y1, x2, y2 = state.box
                    assert x1 <= x and y1 <= y and x + w <= x2 and y + h <= y2
    assert checked > 20 and partly > 5


def test_objects_enter_leave_occlude_and_cross_the_line_both_ways(scene):
    truth = scene.ground_truth()
    width, height = scene.config.width, scene.config.height
    first_seen: dict[int, int] = {}
    for frame, states in enumerate(truth):
        for state in states:
            first_seen.setdefault(state.object_id, frame)
    entering = [f for f in first_seen.values() if f > 0]
    assert len(entering) >= 10  # they come in during the video …
    for states in (truth[f] for f in entering):
        for state in states:
            if first_seen[state.object_id] == truth.index(states):
                x1, y1, x2, y2 = state.box  # … at an edge
                assert x1 == 0 or y1 == 0 or x2 == width or y2 == height
    assert len({s.object_id for s in truth[0]}) < len(first_seen)
    assert {s.object_id for s in truth[0]} - {s.object_id for s in truth[-1]}  # some leave
    occluded = [  # half hidden by a nearer shape, not cut by an edge
        s
        for states in truth
        for s in states
        if s.visibility < 0.5
        and s.box[0] > 0
        and s.box[1] > 0
        and s.box[2] < width
        and s.box[3] < height
    ]
    assert len(occluded) > 5
    counts = scene.true_counts(truth)["lines"]["middle"]
    assert sum(counts["in"].values()) >= 2 and sum(counts["out"].values()) >= 2


def test_write_video_gives_an_mp4_and_motchallenge_ground_truth(tmp_path):
    files = write_video(tmp_path, SHORT, seed=3)
    capture = cv2.VideoCapture(str(files.video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    assert (frames, size) == (150, (224, 168))
    truth = Scene(SHORT, 3).ground_truth()
    rows = [line.split(",") for line in files.gt.read_text().splitlines()]
    assert len(rows) == sum(len(states) for states in truth)
    frame, object_id, left, top, w, h, conf, category, visibility = rows[0]
    state = truth[int(frame) - 1][0]
    assert (int(object_id), int(category), conf) == (state.object_id, state.category_id, "1")
    assert (int(left) - 1, int(top) - 1, int(left) - 1 + int(w), int(top) - 1 + int(h)) == state.box
    assert float(visibility) == pytest.approx(state.visibility, abs=1e-4)
    counts = json.loads(files.counts.read_text())
    assert counts["counts"] == Scene(SHORT, 3).true_counts(truth)
    assert counts["lines"] == [{"name": "middle", "points": [[112.0, 168.0], [112.0, 0.0]]}]
    assert "frameRate=25" in (tmp_path / "seqinfo.ini").read_text()


def test_the_training_set_is_coco_frames_of_other_seeds_and_is_made_once(tmp_path):
    options = {"num_train": 4, "num_val": 2, "per_video": 2, "frames": 40, "objects": 6}
    root = generate_moving_shapes(tmp_path / "set", **options)
    train = json.loads((root / "annotations" / "instances_train.json").read_text())
    val = json.loads((root / "annotations" / "instances_val.json").read_text())
    assert len(train["images"]) == 4 and len(val["images"]) == 2
    assert {i["video_seed"] for i in train["images"]} == {1000, 1001}
    assert {i["video_seed"] for i in val["images"]} == {1002}
    assert train["annotations"] and all(a["visibility"] >= 0.25 for a in train["annotations"])
    image = cv2.imread(str(root / "train" / train["images"][0]["file_name"]))
    assert image.shape == (168, 224, 3)
    stamp = (root / "annotations" / "instances_train.json").stat().st_mtime_ns
    data = {"format": "moving_shapes", "root": str(root), "generation": options, "val": {}}
    assert len(build_dataset(data, "val")) == 2
    assert (root / "annotations" / "instances_train.json").stat().st_mtime_ns == stamp
    with pytest.raises(DatasetError, match="other parameters"):
        build_dataset({**data, "generation": {**options, "seed": 7}}, "val", stored=True)


def test_a_video_that_cannot_be_made_says_why(tmp_path: Path):
    with pytest.raises(DatasetError, match="width and height ≥ 32"):
        VideoConfig(width=8)
