"""The pipeline: batching across sources into one forward pass, bounded buffers, realtime drops,
every_frame order, failures that spare the other sources, stop with drain, outputs."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest
from support.streams import CATEGORIES, Recorder, synthetic

from detect.inference import (
    DetectionStream,
    OutputConfig,
    StreamConfig,
    open_sources,
    run_stream,
)


def test_two_sources_are_batched_through_one_forward_pass(short_clip, tiny_detector):
    predictor, _ = tiny_detector
    recorder = Recorder(predictor)
    sources = open_sources([str(short_clip), str(short_clip)])
    config = StreamConfig(batch_size=2, max_frames=24, score_thresh=0.0)
    with DetectionStream(recorder, sources, config) as stream:
        results = list(stream)
    assert 2 in recorder.batch_sizes and max(recorder.batch_sizes) == 2
    assert sum(recorder.batch_sizes) == len(results) == 48
    assert recorder.batch_sizes.count(2) >= 12  # both sources in most calls
    for source in sources:
        indices = [r.frame.index for r in results if r.frame.source == source.name]
        assert indices == list(range(24))  # every_frame: every frame, in order
    assert all(len(r.detections) > 0 for r in results)
    assert {int(c) for r in results for c in r.detections.class_ids} <= {1, 2, 3}
    boxes = np.concatenate([r.detections.xyxy for r in results])
    assert boxes[:, 2].max() <= 480 and boxes[:, 3].max() <= 360  # original pixels


def test_every_frame_keeps_all_frames_in_order_with_bounded_buffers():
    sources = [synthetic("a", count=60), synthetic("b", count=40)]
    config = StreamConfig(mode="every_frame", batch_size=3, queue_size=4)
    stream = DetectionStream(Recorder(delay=0.002), sources, config)
    seen = []

    def check() -> None:  # before each forward pass: no buffer above its bound
        seen.append(max(len(buffer.items) for buffer in stream.buffers))

    stream.detector.check = check
    with stream:
        results = list(stream)
    assert max(seen) <= 4 and max(stream.detector.batch_sizes) == 3
    for name, count in (("a", 60), ("b", 40)):
        assert [r.frame.index for r in results if r.frame.source == name] == list(range(count))
    summary = stream.summary()
    assert (summary.read, summary.processed, summary.dropped) == (100, 100, 0)
    assert [s.status for s in summary.sources] == ["ended", "ended"]
    assert all(r.frame.rgb is None for r in results)  # the detector's copy is released


def test_realtime_keeps_the_newest_frame_and_counts_drops():
    source = synthetic("live", live=True, count=200, period=0.001)
    recorder = Recorder(delay=0.02)  # far slower than the source
    with DetectionStream(recorder, [source], StreamConfig(batch_size=4)) as stream:
        results = list(stream)
    stats = stream.summary().sources[0]
    assert stats.mode == "realtime" and stats.read == 200
    assert stats.processed + stats.dropped == 200 and stats.dropped > 100
    indices = [r.frame.index for r in results]
    assert indices == sorted(indices) and indices[-1] == 199  # newest frames, the last one too
    assert max(recorder.batch_sizes) == 1  # one slot per live source


def test_a_failing_source_ends_alone_and_says_why():
    sources = [synthetic("bad", count=50, fail_after=5), synthetic("good", count=50)]
    with DetectionStream(Recorder(), sources, StreamConfig()) as stream:
        results = list(stream)
    bad, good = stream.summary().sources
    assert (bad.read, bad.status) == (5, "failed: synthetic failure")
    assert (good.read, good.processed, good.status) == (50, 50, "ended")
    assert len(results) == 55


def test_stop_drains_what_was_read():
    source = synthetic("endless", count=10**9)
    with DetectionStream(Recorder(), [source], StreamConfig(queue_size=6)) as stream:
        for count, _ in enumerate(stream, start=1):
            if count == 20:
                stream.stop("test")
    summary = stream.summary()
    assert summary.stopped_by == "test" and summary.sources[0].status == "stopped"
    assert summary.read == summary.processed + summary.dropped
    assert 20 <= summary.processed <= 20 + 6 + 4  # what the buffer and a batch held
    assert source.closed


def test_run_stream_writes_annotated_images_and_one_json_record_per_frame(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for name in ("x.jpg", "y.png"):
        cv2.imwrite(str(folder / name), np.full((40, 50, 3), 200, np.uint8))
    sources = open_sources(str(folder))
    outputs = OutputConfig(output_dir=tmp_path / "out")
    summary = run_stream(Recorder(), CATEGORIES, sources, outputs=outputs, progress=False)
    assert summary.processed == 2 and summary.fps > 0
    drawn = cv2.imread(str(tmp_path / "out" / "shots" / "x.jpg"))
    assert drawn.shape == (40, 50, 3) and (drawn != 200).any()  # a box was drawn
    records = [json.loads(line) for line in (tmp_path / "out" / "detections.jsonl").open()]
    assert [(r["file"], r["frame"], r["timestamp"]) for r in records] == [
        ("x.jpg", 0, None),
        ("y.png", 1, None),
    ]
    assert records[0]["detections"] == [
        {"box": [1.0, 2.0, 20.0, 30.0], "label": "circle", "category_id": 1, "score": 0.9}
    ]
    assert (records[0]["width"], records[0]["height"]) == (50, 40)
    assert "| stage |" in summary.format() and "2 frames processed" in summary.format()


def test_score_threshold_filters_and_write_errors_stop_the_stream(tmp_path, clip):
    sources = open_sources(str(clip))
    config = StreamConfig(score_thresh=0.95)
    with DetectionStream(Recorder(), sources, config) as stream:
        assert all(len(r.detections) == 0 for r in stream)
    (tmp_path / "out").write_text("a file where the output folder should go")
    with pytest.raises(FileExistsError):
        run_stream(
            Recorder(),
            CATEGORIES,
            open_sources(str(clip)),
            config,
            OutputConfig(output_dir=tmp_path / "out"),
            progress=False,
        )


def test_the_stream_runs_outside_the_main_thread(clip):
    box: list = []
    thread = threading.Thread(
        target=lambda: box.append(
            run_stream(Recorder(), CATEGORIES, open_sources(str(clip)), progress=False)
        )
    )
    thread.start()
    thread.join(timeout=30)
    assert box and box[0].processed == 12
