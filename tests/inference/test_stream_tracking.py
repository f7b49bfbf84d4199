"""Tracking and counting inside the stream, with the scene's ground truth as the detector: two
sources batched through one model keep independent ids and their own counts; dropped frames
(realtime mode) keep tracks and counts; a looped source starts its tracks afresh; the JSON
lines, the summary and the Python API carry ids and counts."""

from __future__ import annotations

import json
import time

import pytest
from support.streams import CATEGORIES
from support.tracking import SceneSource, TruthDetector, ground_truth, scene

from detect.errors import ConfigError
from detect.evaluation.tracking import Boxes, Run, evaluate_tracking
from detect.inference import DetectionStream, OutputConfig, StreamConfig, run_stream
from detect.inference.counting import CountConfig

NAMES = dict(enumerate(CATEGORIES.names, 1))  # a stream without categories: labels


def counting(scenery, source: str | None = None) -> CountConfig:
    line = {"name": "middle", "points": [list(p) for p in scenery.line]}
    return CountConfig.from_plain([{**line, "source": source} if source else line])


def run_of(results, source: str) -> Run:
    frames: dict[int, Boxes] = {}
    for r in results:
        if r.frame.source != source:
            continue
        boxes = frames.setdefault(r.frame.index + 1, Boxes())
        for box, label, track_id in zip(
            r.detections.xyxy, r.detections.class_ids, r.detections.track_ids, strict=True
        ):
            if track_id >= 0:
                boxes.add(int(track_id), box.tolist(), int(label), True)
    return Run(source, frames, None)


def final_counts(results, source: str) -> dict:
    last = [r for r in results if r.frame.source == source][-1]
    return last.counts.named(NAMES)["lines"]


@pytest.fixture(scope="module")
def scenes():
    return {1: scene(1, frames=300), 2: scene(2, frames=300)}


def test_two_streams_in_one_batch_keep_their_own_ids_and_counts(scenes):
    detector = TruthDetector(scenes)
    config = StreamConfig(batch_size=2, track="bytetrack", count=counting(scenes[1]))

    def run(*tags: int) -> list:
        sources = [
            SceneSource(f"cam{t}", "video", live=False, scene=scenes[t], tag=t) for t in tags
        ]
        with DetectionStream(detector, sources, config) as stream:
            return list(stream)

    both = run(1, 2)
    for tag in (1, 2):
        alone = run(tag)
        ids = [r.detections.track_ids.tolist() for r in both if r.frame.source == f"cam{tag}"]
        assert ids == [
            r.detections.track_ids.tolist() for r in alone
        ]  # the other stream changes nothing
        truth = scenes[tag].ground_truth()
        assert final_counts(both, f"cam{tag}") == scenes[tag].true_counts(truth)["lines"]
        report = evaluate_tracking(ground_truth(truth), run_of(both, f"cam{tag}"))
        assert report.metrics["IDF1"] >= 0.9 and report.metrics["MOTA"] >= 0.9, report.format()
    assert sum(1 for r in both if r.frame.source == "cam1") == 300


def test_realtime_drops_keep_tracks_and_counts(scenes):
    class Slow(TruthDetector):
        def __call__(self, images):
            time.sleep(0.006)
            return super().__call__(images)

    source = SceneSource("live", "stream", live=True, scene=scenes[1], tag=1, period=0.003)
    config = StreamConfig(track="bytetrack", count=counting(scenes[1]))
    with DetectionStream(Slow(scenes), [source], config) as stream:
        results = list(stream)
    stats = stream.summary().sources[0]
    assert stats.mode == "realtime" and stats.dropped >= 60  # at least every fifth frame lost
    truth = scenes[1].ground_truth()
    assert final_counts(results, "live") == scenes[1].true_counts(truth)["lines"]
    report = evaluate_tracking(ground_truth(truth), run_of(results, "live"))
    assert report.metrics["IDF1"] >= 0.8, report.format()


def test_a_looped_source_starts_its_tracks_afresh_and_counts_on(scenes):
    source = SceneSource("loop", "video", live=False, scene=scenes[1], tag=1, passes=2)
    config = StreamConfig(track="bytetrack", count=counting(scenes[1]))
    with DetectionStream(TruthDetector(scenes), [source], config) as stream:
        results = list(stream)
    first = {int(i) for r in results[:300] for i in r.detections.track_ids if i >= 0}
    second = {int(i) for r in results[300:] for i in r.detections.track_ids if i >= 0}
    assert first and second and min(second) > max(first)  # no track spans the rewind
    once = scenes[1].true_counts(scenes[1].ground_truth())["lines"]["middle"]
    twice = {d: {name: 2 * n for name, n in c.items()} for d, c in once.items()}
    assert final_counts(results, "loop") == {"middle": twice}


def test_run_stream_writes_ids_and_counts_in_every_record_and_the_summary(scenes, tmp_path):
    source = SceneSource("cam1", "video", live=False, scene=scenes[1], tag=1)
    source.slug = "cam1"
    config = StreamConfig(track="bytetrack", count=counting(scenes[1], source="cam1"))
    outputs = OutputConfig(output_dir=tmp_path, save_video=False)
    summary = run_stream(TruthDetector(scenes), CATEGORIES, [source], config, outputs, False)
    records = [json.loads(line) for line in (tmp_path / "detections.jsonl").open()]
    assert len(records) == 300
    detections = [d for r in records for d in r["detections"]]
    assert detections and all("track_id" in d for d in detections)
    assert any(d["track_id"] is not None for d in detections)
    truth = scenes[1].ground_truth()
    assert records[-1]["counts"]["lines"] == scenes[1].true_counts(truth)["lines"]
    text = summary.format()
    assert "| track |" in text and "| cam1 | line middle | in |" in text
    assert summary.sources[0].track_ids >= 5 and summary.sources[0].peak_tracks <= 20


def test_counting_needs_tracking_and_known_sources(scenes):
    with pytest.raises(ConfigError, match="set track=bytetrack"):
        StreamConfig(count=counting(scenes[1]))
    source = SceneSource("cam1", "video", live=False, scene=scenes[1], tag=1)
    config = StreamConfig(track="bytetrack", count=counting(scenes[1], source="cam9"))
    with pytest.raises(ConfigError, match="'cam9', which is not one of this run's: cam1"):
        DetectionStream(TruthDetector(scenes), [source], config)
