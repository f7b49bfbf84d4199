"""tools/predict.py as a user runs it: a whole real clip to an mp4 that re-opens with the same
frame count and size plus a JSON-lines record per frame; clear one-line errors for sources that
do not open; SIGTERM mid-run leaves a playable mp4 holding every frame recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from support.mjpeg_server import free_port
from support.paths import PROJECT, TOOLS
from support.tools import ENV, assert_one_line_error, output, reopen, run_tool

TOOL = TOOLS / "predict.py"


def detect(*overrides: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_tool("predict", "threads=1", *overrides, timeout=timeout)


@pytest.mark.slow
def test_a_whole_clip_gives_an_mp4_of_the_same_frames_and_a_record_per_frame(
    short_clip, tiny_ckpt, tmp_path
):
    source_count, source_decoded, source_size = reopen(short_clip)
    result = detect(f"ckpt={tiny_ckpt}", f"source={short_clip}", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert f"| {short_clip} | every_frame | 795 | 795 | 0 | 0 | ended |" in result.stdout
    assert "FPS end to end" in result.stdout and "| infer |" in result.stdout
    assert (source_count, source_decoded, source_size) == (795, 795, (480, 360))
    assert reopen(tmp_path / f"{short_clip.stem}.mp4") == (795, 795, (480, 360))
    records = [json.loads(line) for line in (tmp_path / "detections.jsonl").open()]
    assert [r["frame"] for r in records] == list(range(795))
    assert {r["source"] for r in records} == {str(short_clip)}
    assert [r["timestamp"] for r in records[:3]] == [0.0, 0.1, 0.2]
    assert all(r["detections"] == [] for r in records)  # untrained: every score 0.25 < 0.3


@pytest.mark.slow
def test_sources_that_do_not_open_fail_in_one_line(tiny_ckpt, tmp_path):
    url = f"rtsp://127.0.0.1:{free_port()}/live"
    result = detect(f"ckpt={tiny_ckpt}", f"source=[{tmp_path}/none.mp4,{url}]", "timeout_s=2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # the list's missing file is skipped and counted; its camera that never answers stops the run
    assert f"error: cannot open video source '{url}'" in result.stderr
    result = detect(f"ckpt={tiny_ckpt}", f"source={url}", "timeout_s=2")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: cannot open video source '{url}': no answer within 2 s" in result.stderr


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_playable_mp4(short_clip, tiny_ckpt, tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            str(TOOL),
            "threads=1",
            f"ckpt={tiny_ckpt}",
            f"source={short_clip}",
            "loop=true",
            "mode=realtime",  # paced at the clip's 10 fps: still running when signalled
            f"output_dir={tmp_path}",
            "score_thresh=0.2",  # the untrained model's 0.25 scores are written
        ],
        cwd=PROJECT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    jsonl = tmp_path / "detections.jsonl"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
            not jsonl.is_file() or len(jsonl.read_text().splitlines()) < 5
        ):
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM" in stdout
    records = [json.loads(line) for line in jsonl.open()]
    count, decoded, size = reopen(tmp_path / f"{short_clip.stem}.mp4")
    assert count == decoded == len(records) >= 5 and size == (480, 360)
    detection = records[0]["detections"][0]
    assert set(detection) == {"box", "label", "category_id", "score"}
    assert detection["label"] in ("circle", "square", "triangle")
    assert detection["category_id"] in (1, 2, 3) and detection["score"] == 0.25
    x1, y1, x2, y2 = detection["box"]
    assert 0 <= x1 <= x2 <= 480 and 0 <= y1 <= y2 <= 360


@pytest.mark.slow
def test_a_truncated_clip_is_reported_with_both_frame_counts_and_exit_code_2(
    videos_dir, tiny_ckpt, tmp_path
):
    clip = videos_dir / "car_traffic_small_640x360.mp4"
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 10])  # 30% of its bytes
    result = detect(f"ckpt={tiny_ckpt}", f"source={cut}", f"output_dir={tmp_path / 'out'}")
    assert result.returncode == 2, result.stderr[-2000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith(f"| {cut} |"))
    assert "| truncated: decoded 270 of the 919 frames its container lists |" in row
    assert "(1 source truncated)" in result.stdout
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "truncated" in line and "what was read is written" in line
    assert "Traceback" not in result.stderr
    assert reopen(tmp_path / "out" / "cut.mp4")[1] == 270  # every decoded frame written


@pytest.mark.slow
def test_classes_by_name_keep_only_those_and_an_unknown_one_is_refused(
    trained_like_ckpt, coco_val_dir, tmp_path
):
    image = sorted(coco_val_dir.glob("*.jpg"))[0]
    common = (f"ckpt={trained_like_ckpt}", f"source={image}", "score_thresh=0.0", "backend=pytorch")
    kept = detect(*common, "classes=[square]", "max_detections=5", f"output_dir={tmp_path}")
    assert kept.returncode == 0, output(kept)[-2000:]
    (record,) = [json.loads(line) for line in (tmp_path / "detections.jsonl").open()]
    assert len(record["detections"]) == 5
    assert {d["label"] for d in record["detections"]} == {"square"}
    refused = detect(*common, "classes=[zebra]", f"output_dir={tmp_path / 'no'}")
    assert_one_line_error(refused, "classes: 'zebra' is not one of the model's categories")
