"""ByteTrack on known answers: the synthetic scene's ground truth (with noise, misses and low
scores for hidden objects) tracked with high IDF1/MOTA and exact line counts, also with every
other frame dropped; low-score detections carry tracks through occlusion; tentative tracks get
no id; ids never shared across classes; lost tracks dropped after their time (bounded memory);
frame gaps predicted over; a reset forgets tracks."""

from __future__ import annotations

import numpy as np
import pytest
from support.tracking import detections, ground_truth, scene

from detect.data.moving_shapes import CATEGORIES, Scene
from detect.evaluation.tracking import Boxes, Run, evaluate_tracking
from detect.inference.counting import CountConfig, TrackCounter
from detect.inference.tracking import ByteTracker, TrackerConfig, assign, box_iou


def track_scene(
    scenery: Scene, step: int = 1, seed: int = 0, tracker: ByteTracker | None = None
) -> tuple[Run, dict, ByteTracker]:
    """Track the scene's noisy ground truth on every ``step``-th frame, counting its line."""
    tracker = tracker or ByteTracker()
    count = CountConfig.from_plain([{"name": "middle", "points": [list(p) for p in scenery.line]}])
    counter = TrackCounter(count.lines, count.zones)
    rng = np.random.default_rng(seed)
    frames: dict[int, Boxes] = {}
    for frame, states in enumerate(scenery.ground_truth()):
        if frame % step:
            continue
        boxes, scores, labels = detections(states, rng)
        ids = tracker.update(boxes, scores, labels, frame)
        counter.forget(tracker.confirmed_ids())
        counter.update(boxes, labels, ids, tracker.born)
        tracked = frames.setdefault(frame + 1, Boxes())
        for box, label, track_id in zip(boxes, labels, ids, strict=True):
            if track_id >= 0:
                tracked.add(int(track_id), box.tolist(), int(label), True)
    counts = counter.snapshot().named(dict(enumerate(CATEGORIES, 1)))
    return Run("scene", frames, counts), counts, tracker


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_scene_is_tracked_and_its_line_counted_exactly(seed):
    scenery = scene(seed)
    truth = scenery.ground_truth()
    run, counts, _ = track_scene(scenery, seed=seed)
    report = evaluate_tracking(ground_truth(truth), run)
    assert report.metrics["IDF1"] >= 0.9 and report.metrics["MOTA"] >= 0.9, report.format()
    assert counts["lines"] == scenery.true_counts(truth)["lines"]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_other_frame_dropped_keeps_tracks_and_counts(seed):
    scenery = scene(seed)
    truth = scenery.ground_truth()
    run, counts, _ = track_scene(scenery, step=2, seed=seed)
    report = evaluate_tracking(ground_truth(truth), run)
    assert report.frames_scored == 250 and report.frames_missing >= 240
    assert report.metrics["IDF1"] >= 0.8, report.format()
    assert counts["lines"] == scenery.true_counts(truth)["lines"]


def moving(x0: float, dx: float, frames: int, y: float = 50.0, w: float = 30.0) -> np.ndarray:
    """(frames, 4) boxes of one object moving right by ``dx`` px per frame."""
    x = x0 + dx * np.arange(frames)
    return np.stack([x, np.full(frames, y), x + w, np.full(frames, y + w)], axis=1)


def one(box: np.ndarray, score: float = 0.9, label: int = 1):
    return box[None, :], np.array([score]), np.array([label])


def test_low_score_detections_carry_a_track_through_an_occlusion():
    tracker = ByteTracker()
    path = moving(0, 3, 40)
    ids = [
        tracker.update(*one(box, 0.3 if 15 <= f < 30 else 0.9), f)[0] for f, box in enumerate(path)
    ]
    assert set(ids[1:]) == {1}  # the hidden stretch (scores 0.3) keeps id 1, never a new track
    without_second_stage = ByteTracker(TrackerConfig(low_thresh=0.5))
    ids = [
        without_second_stage.update(*one(box, 0.3 if 15 <= f < 30 else 0.9), f)[0]
        for f, box in enumerate(path)
    ]
    assert ids[15:30] == [-1] * 15  # a score threshold alone loses it


def test_a_score_equal_to_a_threshold_passes_it_at_the_scores_precision():
    # float32(0.7) is just under the double 0.7: still "score ≥ 0.7" for a float32 score
    config = TrackerConfig(high_thresh=0.7, new_track_thresh=0.7, confirm_hits=1)
    boxes, _, labels = one(moving(0, 2, 1)[0])
    at_threshold = np.array([0.7], np.float32)
    assert ByteTracker(config).update(boxes, at_threshold, labels, 0)[0] == 1
    just_under = np.nextafter(at_threshold, np.float32(0))
    assert ByteTracker(config).update(boxes, just_under, labels, 0)[0] == -1


def test_tentative_tracks_get_no_id_and_take_none():
    tracker = ByteTracker()
    flicker = np.array([200.0, 200.0, 230.0, 230.0])
    assert tracker.update(*one(flicker), 0)[0] == -1  # seen once: tentative, no id
    path = moving(0, 2, 5)
    ids = [tracker.update(*one(box), f)[0] for f, box in enumerate(path, start=1)]
    assert ids == [-1, 1, 1, 1, 1]  # the flicker was deleted unseen: the real object is id 1
    assert tracker.next_id == 2


def test_ids_are_unique_across_classes_and_a_track_keeps_its_class():
    tracker = ByteTracker()
    box = np.array([[10.0, 10.0, 40.0, 40.0]])
    both = (np.concatenate([box, box]), np.array([0.9, 0.9]), np.array([1, 2]))
    tracker.update(*both, 0)
    ids = tracker.update(*both, 1)
    assert sorted(ids.tolist()) == [1, 2]  # same place, two classes: two ids, one counter
    swapped = tracker.update(box, np.array([0.9]), np.array([3]), 2)
    assert swapped.tolist() == [-1]  # a class-3 detection never continues a class-1/2 track


def test_lost_tracks_are_dropped_after_lost_frames_and_memory_stays_bounded():
    config = TrackerConfig(lost_frames=10)
    tracker = ByteTracker(config)
    path = moving(0, 0, 3)
    for f in range(3):
        tracker.update(*one(path[f]), f)
    empty = (np.empty((0, 4)), np.empty(0), np.empty(0, np.int64))
    for f in range(3, 14):  # unseen for 11 frames: lost, then dropped
        tracker.update(*empty, f)
        assert len(tracker.tracks) == (1 if f - 2 <= 10 else 0)
    assert tracker.update(*one(path[0]), 14)[0] == -1  # back after that: a new (tentative) track
    rng = np.random.default_rng(0)
    peak = 0
    for f in range(15, 3000):  # objects blinking at random places
        count = int(rng.integers(0, 6))
        xy = rng.uniform(0, 600, (count, 2))
        boxes = np.concatenate([xy, xy + 20], axis=1)
        tracker.update(boxes, np.full(count, 0.9), np.ones(count, np.int64), f)
        peak = max(peak, len(tracker.tracks))
    assert peak <= 5 * (config.lost_frames + 2)  # ≤ detections per frame × frames kept


def test_a_lost_track_found_again_on_the_frame_it_would_expire_keeps_its_id():
    """A frame gap (realtime drops) can bring a lost track back on its last frame: it is
    matched, so it is kept — and its id then names a live track (counting asks for it)."""
    tracker = ByteTracker(TrackerConfig(lost_frames=10))
    path = moving(0, 0, 3)
    for f in range(3):
        tracker.update(*one(path[f]), f)
    tracker.update(np.empty((0, 4)), np.empty(0), np.empty(0, np.int64), 3)  # lost
    assert tracker.update(*one(path[0]), 13).tolist() == [1]  # 11 frames after it was seen
    assert len(tracker.tracks) == 1 and np.array_equal(tracker.born(1), path[0])


def test_a_prediction_spans_the_frames_since_the_last_update():
    path = moving(0, 12, 60, w=30)  # 12 px per frame, 30 px wide
    frames = [*range(10), *range(12, 60, 3)]  # then every 3rd frame: 36 px between updates
    tracker = ByteTracker()
    ids = [tracker.update(*one(path[f]), f)[0] for f in frames]
    assert set(ids[1:]) == {1} and tracker.next_id == 2  # one step ahead would miss it


def test_reset_forgets_the_tracks_and_ids_go_on():
    tracker = ByteTracker()
    path = moving(0, 2, 4)
    for f in range(4):
        tracker.update(*one(path[f]), f)
    tracker.reset()
    assert tracker.tracks == [] and tracker.confirmed_ids() == set()
    ids = [tracker.update(*one(path[f]), f)[0] for f in range(4)]
    assert ids == [-1, 2, 2, 2]  # not 1 again: an id never names two objects of a source


def test_assignment_takes_only_pairs_under_the_limit_and_the_best_of_them():
    iou = box_iou(
        np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float),
        np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 0, 110, 10]], float),
    )
    assert iou[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    rows, cols = assign(1 - iou, 0.5)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 0)]
    cost = np.array([[0.1, 0.2], [0.15, np.inf]])
    rows, cols = assign(cost, 0.5)  # the optimum: 0.2 + 0.15 beats 0.1 alone
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
