"""Counting lines and zones on known paths: direction convention, each track once per line and
direction, passing beside a segment's end, one line's crossing moving no other line, jitter
about a line, unconfirmed tracks never counted, a crossing while tentative counted once
confirmed, zone occupancy and entries, snapshots that never change, memory dropped with the
tracks, config errors."""

from __future__ import annotations

import numpy as np
import pytest

from detect.errors import ConfigError
from detect.inference.counting import CountConfig, Line, TrackCounter, Zone

NAMES = {1: "circle", 2: "square", 3: "triangle"}  # class → name


def box_at(x: float, y: float, size: float = 10.0) -> np.ndarray:
    return np.array([x - size / 2, y - size / 2, x + size / 2, y + size / 2])


def walk(counter: TrackCounter, path: list[tuple[float, float]], track_id: int = 1, label: int = 1):
    for x, y in path:
        counter.update(box_at(x, y)[None, :], np.array([label]), np.array([track_id]))


def line_counts(counter: TrackCounter, name: str = "gate") -> dict:
    return counter.snapshot().named(NAMES)["lines"][name]


def test_in_is_left_to_right_of_the_walk_from_the_first_point_to_the_second():
    across = TrackCounter([Line("gate", (0, 50), (100, 50))], [])  # drawn left → right
    walk(across, [(50, 40), (50, 60)])  # moving down
    walk(across, [(30, 60), (30, 40)], track_id=2, label=2)  # moving up
    assert line_counts(across) == {"in": {"circle": 1}, "out": {"square": 1}}
    upward = TrackCounter([Line("gate", (50, 100), (50, 0))], [])  # drawn bottom → top
    walk(upward, [(40, 50), (60, 50)])  # moving right
    assert line_counts(upward) == {"in": {"circle": 1}, "out": {}}


def test_each_track_counts_once_per_line_and_direction():
    counter = TrackCounter([Line("gate", (0, 50), (100, 50))], [])
    walk(counter, [(50, 40), (50, 60), (50, 40), (50, 60), (50, 40)])
    assert line_counts(counter) == {"in": {"circle": 1}, "out": {"circle": 1}}


def test_passing_beside_the_end_of_a_segment_is_no_crossing():
    counter = TrackCounter([Line("gate", (0, 50), (100, 50))], [])
    walk(counter, [(150, 40), (150, 60), (50, 60)])  # beside it, then under it
    assert line_counts(counter) == {"in": {}, "out": {}}


def test_one_crossing_moves_only_the_line_crossed():
    lines = [Line("left", (0, 50), (100, 50)), Line("right", (200, 50), (300, 50))]
    counter = TrackCounter(lines, [])
    walk(counter, [(50, 40), (50, 60)])
    named = counter.snapshot().named(NAMES)["lines"]
    assert named == {"left": {"in": {"circle": 1}, "out": {}}, "right": {"in": {}, "out": {}}}


def test_jitter_about_a_line_does_not_count_back_and_forth():
    counter = TrackCounter([Line("gate", (0, 50), (100, 50))], [], margin=0.05)  # 0.5 px at 10
    walk(counter, [(50, 45), (50, 50.3), (50, 49.8), (50, 50.4), (50, 55)])
    assert line_counts(counter) == {"in": {"circle": 1}, "out": {}}
    plain = TrackCounter([Line("gate", (0, 50), (100, 50))], [], margin=0.0)
    walk(plain, [(50, 45), (50, 50.3), (50, 49.8), (50, 50.4), (50, 55)])
    assert line_counts(plain) == {"in": {"circle": 1}, "out": {"circle": 1}}


def test_unconfirmed_tracks_are_never_counted_and_a_tentative_crossing_counts_on_confirmation():
    counter = TrackCounter([Line("gate", (0, 50), (100, 50))], [])
    for y in (40, 60, 40, 60):  # detections that no confirmed track holds
        counter.update(box_at(50, y)[None, :], np.array([1]), np.array([-1]))
    assert line_counts(counter) == {"in": {}, "out": {}}
    born = {7: box_at(20, 40)}  # tentative above the line, confirmed below it
    counter.update(box_at(20, 60)[None, :], np.array([3]), np.array([7]), born.__getitem__)
    assert line_counts(counter) == {"in": {"triangle": 1}, "out": {}}


def test_zones_count_occupancy_now_and_each_track_entering_once():
    zone = Zone("desk", ((0, 0), (100, 0), (100, 100), (0, 100)))
    counter = TrackCounter([], [zone])
    frames = [  # (x of track 1, x of track 2)
        (50, 150),
        (50, 50),
        (150, 60),
        (50, 160),  # track 1 back in: still one entry
    ]
    inside = []
    for x1, x2 in frames:
        boxes = np.stack([box_at(x1, 50), box_at(x2, 50)])
        counter.update(boxes, np.array([1, 2]), np.array([1, 2]))
        inside.append(counter.snapshot().named(NAMES)["zones"]["desk"]["inside"])
    assert inside == [{"circle": 1}, {"circle": 1, "square": 1}, {"square": 1}, {"circle": 1}]
    assert counter.snapshot().named(NAMES)["zones"]["desk"]["entries"] == {
        "circle": 1,
        "square": 1,
    }


def test_a_snapshot_is_kept_while_nothing_changes_and_never_changes_after():
    zone = Zone("desk", ((0, 0), (100, 0), (100, 100), (0, 100)))
    counter = TrackCounter([Line("gate", (0, 50), (200, 50))], [zone])
    walk(counter, [(150, 40)])  # above the line, outside the desk
    first = counter.snapshot()
    walk(counter, [(160, 40)])  # nothing changes
    assert counter.snapshot() is first
    walk(counter, [(160, 60)])  # crosses the line
    crossed = counter.snapshot()
    walk(counter, [(50, 60)])  # into the desk
    inside = counter.snapshot()
    walk(counter, [(150, 60)])  # out of it: occupancy changes, entries stay
    assert first.named(NAMES)["lines"]["gate"] == {"in": {}, "out": {}}
    assert crossed.named(NAMES)["lines"]["gate"] == {"in": {"circle": 1}, "out": {}}
    assert crossed.named(NAMES)["zones"]["desk"] == {"inside": {}, "entries": {}}
    assert inside.named(NAMES)["zones"]["desk"] == {
        "inside": {"circle": 1},
        "entries": {"circle": 1},
    }
    assert counter.snapshot().named(NAMES)["zones"]["desk"] == {
        "inside": {},
        "entries": {"circle": 1},
    }


def test_memory_lives_only_as_long_as_its_track():
    counter = TrackCounter([Line("gate", (0, 50), (100, 50))], [])
    for track_id in range(1, 1001):
        walk(counter, [(50, 40)], track_id=track_id)
        counter.forget({track_id})
    assert list(counter.memory) == [1000]


def test_lines_and_zones_from_config_values_and_their_errors():
    config = CountConfig.from_plain(
        [[0, 10, 100, 10], {"name": "door", "points": [[5, 0], [5, 9]], "source": "cam.mp4"}],
        [{"points": [0, 0, 10, 0, 10, 10]}],
    )
    assert config.lines[0] == Line("line1", (0.0, 10.0), (100.0, 10.0))
    assert config.lines[1].source == "cam.mp4" and config.zones[0].name == "zone1"
    assert config.for_source(["other.mp4"]) == ([config.lines[0]], [config.zones[0]])
    with pytest.raises(ConfigError, match=r"'door' is for source 'cam\.mp4'.*a\.mp4"):
        config.check_sources(["a.mp4", "a"])
    with pytest.raises(ConfigError, match=r"count.lines\[0\] \(line1\): a line needs two distinct"):
        CountConfig.from_plain([[0, 0, 0, 0]])
    with pytest.raises(ConfigError, match=r"count.lines\[0\]: points must be"):
        CountConfig.from_plain([["a", "b"]])
    with pytest.raises(ConfigError, match="at least 3 points"):
        CountConfig.from_plain([], [[0, 0, 1, 1]])
    with pytest.raises(ConfigError, match="distinct names"):
        CountConfig.from_plain(
            [{"name": "x", "points": [0, 0, 1, 1]}], [{"name": "x", "points": [0, 0, 1, 0, 1, 1]}]
        )
