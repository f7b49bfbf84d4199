"""``detect eval-tracking`` on bad inputs (issue 32): one ``error:`` line naming the file, the
line and the field, or a counted note — never a traceback, never IDF1 above 1."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import one_error_line

from detect.errors import DatasetError
from detect.evaluation.tracking import evaluate_tracking, read_mot, read_run

FRAMES = 5


def record(frame: int, detections: list, source: str = "clip") -> str:
    return json.dumps({"source": source, "frame": frame, "detections": detections})


def detection(track_id: int, frame: int) -> dict:
    box = [10.0 + frame, 10.0, 30.0 + frame, 30.0]
    return {"box": box, "score": 0.9, "category_id": 1, "track_id": track_id}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A run that tracks one object perfectly, and its MOT ground truth."""
    lines = [record(i, [detection(1, i)]) for i in range(FRAMES)]
    (tmp_path / "run.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "dup.jsonl").write_text("\n".join([*lines, lines[2]]) + "\n")
    changed = record(2, [detection(1, 3)])
    (tmp_path / "conflict.jsonl").write_text("\n".join([*lines, changed]) + "\n")
    gt = [f"{i + 1},1,{11 + i},11,20,20,1,1,1.0" for i in range(FRAMES)]
    (tmp_path / "gt.txt").write_text("\n".join(gt) + "\n")
    return tmp_path


def tracking(files: Path, detect_cli, detections: str = "run.jsonl", gt: str = "gt.txt", *more):
    return detect_cli(
        "eval-tracking", f"detections={files / detections}", f"gt={files / gt}", *more
    )


def test_the_crafted_run_scores_perfectly(files, detect_cli):
    report = evaluate_tracking(read_mot(files / "gt.txt"), read_run(files / "run.jsonl"))
    assert report.metrics["IDF1"] == pytest.approx(1.0)
    code, text = tracking(files, detect_cli)
    assert code == 0 and "IDF1 | 1.0000" in text, text


def test_a_frame_recorded_twice_is_scored_once_with_a_note(files, detect_cli):
    """Before: IDF1 1.0051-style scores (each match counted twice); now one score per frame."""
    run = read_run(files / "dup.jsonl")
    assert run.repeated == 1
    report = evaluate_tracking(read_mot(files / "gt.txt"), run)
    assert report.metrics["IDF1"] == pytest.approx(1.0)
    assert report.metrics["IDP"] <= 1.0 and report.metrics["IDR"] <= 1.0
    code, text = tracking(files, detect_cli, "dup.jsonl")
    assert code == 0 and "note: 1 frame records repeated" in text, text


def test_a_frame_recorded_twice_differently_is_refused(files, detect_cli):
    one_error_line(*tracking(files, detect_cli, "conflict.jsonl"), "conflict.jsonl:6", "frame 2")


@pytest.mark.parametrize(
    ("content", "phrases"),
    [
        (json.dumps({"source": "clip", "frame": 0}), [":1:", "detections: field required"]),
        (record(0, [{"box": [1, 2], "category_id": 1, "track_id": 1}]), [":1:", "box"]),
        (record(0, [{"box": [1, 2, "x", 4], "category_id": 1}]), [":1:", "box[2]"]),
        (record(-1, []), [":1:", "frame"]),
        ("[1, 2]", [":1:", "not a detections record"]),
        ("{not json", [":1:", "not a JSON line"]),
        ("", ["is empty", "no frame records"]),
    ],
    ids=[
        "no-detections",
        "box-2-values",
        "box-string",
        "frame-negative",
        "a-list",
        "bad-json",
        "empty",
    ],
)
def test_a_bad_detections_file_is_one_line(files, detect_cli, content, phrases):
    (files / "bad.jsonl").write_text(content + ("\n" if content else ""))
    line = one_error_line(*tracking(files, detect_cli, "bad.jsonl"), "bad.jsonl", *phrases)
    assert "holds 0 sources" not in line


def test_a_nan_box_in_a_record_is_refused(files):
    (files / "nan.jsonl").write_text(
        '{"source": "s", "frame": 0, "detections": [{"box": [NaN, 1, 2, 3], "category_id": 1}]}\n'
    )
    with pytest.raises(DatasetError, match="box"):
        read_run(files / "nan.jsonl")


GT_ROWS = [f"{i + 1},1,{11 + i},11,20,20,1,1,1.0" for i in range(FRAMES)]


@pytest.mark.parametrize(
    ("row", "phrases"),
    [
        ("5,2,nan,11,20,20,1,1,1.0", [":6:", "left"]),
        ("5,2,15,11,-20,20,1,1,1.0", [":6:", "width"]),
        ("5,1,50,50,20,20,1,1,1.0", [":6:", "id 1 appears twice in frame 5", "line 5"]),
        ("-3,2,50,50,20,20,1,1,1.0", [":6:", "frame"]),
        ("0,2,50,50,20,20,1,1,1.0", [":6:", "frame"]),
        ("5,2,15,11,inf,20,1,1,1.0", [":6:", "width"]),
        ("5,2,15", [":6:", "not a MOTChallenge row"]),
    ],
    ids=["nan", "negative-width", "duplicate-id", "negative-frame", "frame-0", "inf", "short"],
)
def test_ground_truth_that_cannot_be_scored_is_refused(files, detect_cli, row, phrases):
    (files / "bad_gt.txt").write_text("\n".join([*GT_ROWS, row]) + "\n")
    one_error_line(*tracking(files, detect_cli, gt="bad_gt.txt"), "bad_gt.txt", *phrases)


def test_ground_truth_of_random_bytes_is_one_line(files, detect_cli):
    random.seed(0)
    (files / "noise.txt").write_bytes(bytes(random.getrandbits(8) for _ in range(2000)))
    one_error_line(*tracking(files, detect_cli, gt="noise.txt"), "noise.txt", "not a text file")


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ("[1, 2, 3]", "not a counts.json"),
        ('{"counts": {"lines": [1]}}', "counts.lines"),
        ("{oops", "not valid json"),
    ],
    ids=["a-list", "lines-a-list", "bad-json"],
)
def test_a_bad_counts_file_is_one_line(files, detect_cli, content, phrase):
    (files / "counts.json").write_text(content)
    code, text = tracking(
        files, detect_cli, "run.jsonl", "gt.txt", f"counts={files / 'counts.json'}"
    )
    one_error_line(code, text, "counts.json", phrase)
    assert "IDF1" not in text  # refused before the scoring
