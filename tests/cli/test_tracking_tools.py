"""The tracking tools as a user runs them: tools/synth_video.py writes a video with MOTChallenge
ground truth; tools/eval_tracking.py scores runs against it with known answers (a perfect run,
one id switch, counts compared); tools/predict.py track=bytetrack on a real clip writes every
frame read, ids in the JSON lines, and an mp4 of those frames at the input's size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.tools import reopen, run_tool

from detect.evaluation.tracking import evaluate_tracking, read_mot, read_run

CATEGORY_NAMES = {1: "circle", 2: "square", 3: "triangle"}


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    run_tool("synth_video", "seed=1", "video.frames=120", f"output_dir={folder}", check=True)
    return folder


def perfect_run(video: Path, path: Path, switch_at: int | None = None) -> Path:
    """detections.jsonl as tools/predict.py would write it, from the ground truth itself;
    ``switch_at``: object 1 takes a new id from that frame on."""
    frames: dict[int, list] = {}
    for line in (video / "gt" / "gt.txt").read_text().splitlines():
        frame, object_id, left, top, width, height, _, category, _ = line.split(",")
        frame, object_id, category = int(frame) - 1, int(object_id), int(category)
        x1, y1 = float(left) - 1, float(top) - 1
        if switch_at is not None and object_id == 1 and frame >= switch_at:
            object_id = 999
        frames.setdefault(frame, []).append(
            {
                "box": [x1, y1, x1 + float(width), y1 + float(height)],
                "label": CATEGORY_NAMES[category],
                "category_id": category,
                "score": 0.9,
                "track_id": object_id,
            }
        )
    counts = json.loads((video / "counts.json").read_text())["counts"]
    with path.open("w") as file:
        for frame in range(120):
            record = {"source": "s1.mp4", "frame": frame, "detections": frames.get(frame, [])}
            file.write(json.dumps({**record, "counts": counts}) + "\n")
    return path


@pytest.mark.slow
def test_synth_video_writes_the_mp4_and_motchallenge_files(video):
    assert reopen(video / "moving_shapes_s1.mp4") == (120, 120, (224, 168))
    assert (video / "gt" / "gt.txt").read_text().startswith("1,")
    assert json.loads((video / "counts.json").read_text())["lines"][0]["name"] == "middle"


@pytest.mark.slow
def test_eval_tracking_scores_known_answers(video, tmp_path):
    perfect = perfect_run(video, tmp_path / "perfect.jsonl")
    out = tmp_path / "metrics.json"
    result = run_tool(
        "eval_tracking",
        f"detections={perfect}",
        f"gt={video}/gt/gt.txt",
        f"counts={video}/counts.json",
        f"output={out}",
        check=True,
    )
    assert "| MOTA | 1.0000 |" in result.stdout and "| IDF1 | 1.0000 |" in result.stdout
    assert "counts: equal to the true counts" in result.stdout
    metrics = json.loads(out.read_text())
    assert metrics["counts_exact"] and metrics["metrics"]["ID switches"] == 0
    switched = perfect_run(video, tmp_path / "switched.jsonl", switch_at=20)
    report = evaluate_tracking(read_mot(video / "gt" / "gt.txt"), read_run(switched))
    assert report.metrics["ID switches"] == 1 and report.metrics["MOTA"] < 1
    assert report.metrics["IDF1"] < 1 and report.metrics["false positives"] == 0


@pytest.mark.slow
def test_predict_tracks_a_real_clip_writing_every_frame_with_ids(short_clip, tiny_ckpt, tmp_path):
    result = run_tool(
        "predict",
        "threads=1",
        f"ckpt={tiny_ckpt}",
        f"source={short_clip}",
        f"output_dir={tmp_path}",
        "track=bytetrack",
        "tracker.high_thresh=0.2",  # the untrained model scores every box 0.25
        "tracker.new_track_thresh=0.2",
        "tracker.tentative_match_iou=0.2",
        "count.lines=[[0,180,480,180]]",
        "count.zones=[[0,0,240,0,240,360,0,360]]",
        "max_frames=150",  # the untrained model's 300 boxes a frame make tracking slow
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert reopen(tmp_path / f"{short_clip.stem}.mp4") == (150, 150, (480, 360))
    records = [json.loads(line) for line in (tmp_path / "detections.jsonl").open()]
    assert [r["frame"] for r in records] == list(range(150))
    ids = [d["track_id"] for r in records for d in r["detections"]]
    assert ids and all(isinstance(i, int) for i in ids[len(ids) // 2 :])
    assert set(records[-1]["counts"]) == {"lines", "zones"}
    assert "| track |" in result.stdout and "| track ids | peak live tracks |" in result.stdout
