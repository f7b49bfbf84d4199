"""Tracking metrics: a run's tracks (``detections.jsonl`` of ``tools/predict.py
track=bytetrack``) scored against MOTChallenge ground truth with py-motmetrics — CLEAR MOT
(MOTA, MOTP, ID switches, fragmentations), identity (IDF1, IDP, IDR) and mostly tracked/lost.

Matching as MOTChallenge's: a track box and a ground-truth box may match when their IoU ≥
``iou`` (0.5). Ground-truth rows whose "consider" flag is 0, or whose visibility is below
``min_visibility``, are ignored: tracks matched to them (one optimal assignment over all
ground truth of the frame) are dropped from that frame, so finding a hidden object is never a
false positive nor missing it a miss — TrackEval's MOTChallenge preprocessing does the same
with distractors. With ``class_aware`` a track only matches ground truth of its category (the
class column holds category ids, as the synthetic video writes them). Only frames the run has
a record of are scored (realtime mode drops frames); the others are counted in the report.

HOTA is not computed: py-motmetrics' release has no HOTA, and TrackEval's PyPI package
requires the GUI build of OpenCV, which needs libGL and clashes with opencv-python-headless.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import motmetrics
import numpy as np

from detect.errors import DatasetError
from detect.inference.tracking import assign, box_iou

METRICS = {  # motmetrics name → ours
    "mota": "MOTA",
    "motp": "MOTP",
    "idf1": "IDF1",
    "idp": "IDP",
    "idr": "IDR",
    "recall": "recall",
    "precision": "precision",
    "num_switches": "ID switches",
    "num_fragmentations": "fragmentations",
    "num_false_positives": "false positives",
    "num_misses": "misses",
    "num_objects": "ground-truth boxes",
    "num_unique_objects": "objects",
    "mostly_tracked": "mostly tracked",
    "partially_tracked": "partially tracked",
    "mostly_lost": "mostly lost",
}


@dataclass
class Boxes:
    """One frame's boxes: ``ids`` (N,), ``boxes`` (N, 4) xyxy pixels (0-based), ``classes``
    (N,), ``considered`` (N,) — False for ignored ground truth."""

    ids: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    considered: list[bool] = field(default_factory=list)

    def add(self, track_id: int, box: list[float], category: int, considered: bool) -> None:
        self.ids.append(track_id)
        self.boxes.append(box)
        self.classes.append(category)
        self.considered.append(considered)

    def array(self) -> np.ndarray:
        return np.array(self.boxes, np.float64).reshape(-1, 4)


def read_mot(path: str | Path, min_visibility: float = 0.0) -> dict[int, Boxes]:
    """MOTChallenge ``gt.txt`` (frame, id, left, top, width, height, consider, class,
    visibility; 1-based frames and pixels) → frame → boxes, xyxy 0-based."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"ground truth not found: {path} (a MOTChallenge gt/gt.txt)")
    frames: dict[int, Boxes] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            frame, track_id = int(float(fields[0])), int(float(fields[1]))
            left, top, width, height = (float(v) for v in fields[2:6])
            consider = len(fields) < 7 or float(fields[6]) != 0
            category = int(float(fields[7])) if len(fields) > 7 else 1
            visibility = float(fields[8]) if len(fields) > 8 else 1.0
        except (ValueError, IndexError):
            raise DatasetError(
                f"{path}:{number}: not a MOTChallenge row (frame, id, left, top, width, "
                f"height, consider, class, visibility): {line!r}"
            ) from None
        box = [left - 1, top - 1, left - 1 + width, top - 1 + height]
        keep = consider and visibility >= min_visibility
        frames.setdefault(frame, Boxes()).add(track_id, box, category, keep)
    if not frames:
        raise DatasetError(f"{path}: no ground-truth rows")
    return frames


@dataclass
class Run:
    """One source's tracks from a ``detections.jsonl``: MOT frame (1-based) → boxes, and the
    source's last ``counts`` record (None without counting)."""

    source: str
    frames: dict[int, Boxes]
    counts: dict[str, Any] | None


def read_run(path: str | Path, source: str | None = None) -> Run:
    """The tracked detections (those with a ``track_id``) of ``source`` (None: the file's
    only source) in a ``detections.jsonl``; classes are the records' ``category_id``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"detections not found: {path} (tools/predict.py writes it)")
    records = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise DatasetError(f"{path}:{number}: not a JSON line") from None
    sources = sorted({r["source"] for r in records})
    if source is None:
        if len(sources) != 1:
            raise DatasetError(
                f"{path} holds {len(sources)} sources; choose one with source=… "
                f"({', '.join(sources) or 'none'})"
            )
        source = sources[0]
    elif source not in sources:
        raise DatasetError(f"{path} has no source {source!r}; it has {', '.join(sources)}")
    frames: dict[int, Boxes] = {}
    counts = None
    tracked = False
    for record in records:
        if record["source"] != source:
            continue
        boxes = frames.setdefault(record["frame"] + 1, Boxes())
        for detection in record["detections"]:
            if "track_id" in detection:
                tracked = True
            if detection.get("track_id") is not None:
                boxes.add(detection["track_id"], detection["box"], detection["category_id"], True)
        counts = record.get("counts", counts)
    if records and not tracked and any(r["detections"] for r in records):
        raise DatasetError(
            f"{path}: its detections have no track_id; run tools/predict.py with track=bytetrack"
        )
    return Run(source, frames, counts)


def kept_tracks(gt: Boxes, tracks: Boxes, iou: float, class_aware: bool) -> np.ndarray:
    """Which tracks to score: all but those matched to ignored ground truth."""
    keep = np.ones(len(tracks.ids), bool)
    if not gt.ids or not tracks.ids or all(gt.considered):
        return keep
    cost = 1.0 - box_iou(gt.array(), tracks.array())
    if class_aware:
        cost[np.array(gt.classes)[:, None] != np.array(tracks.classes)[None, :]] = np.inf
    rows, cols = assign(cost, 1.0 - iou + 1e-9)
    ignored = ~np.array(gt.considered)
    keep[cols[ignored[rows]]] = False
    return keep


@dataclass
class TrackingReport:
    """The metrics (fractions in [0, 1], counts as numbers), frames scored, and ground-truth
    frames the run has no record of."""

    metrics: dict[str, float]
    frames_scored: int
    frames_missing: int

    def format(self) -> str:
        rows = [f"| {name} | {format_value(value)} |" for name, value in self.metrics.items()]
        return "\n".join(
            [
                "| metric | value |",
                "|---|---|",
                *rows,
                "",
                f"{self.frames_scored} frames scored; {self.frames_missing} ground-truth frames "
                "without a record (dropped or not read) left out",
            ]
        )


def format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) > 1 else f"{value:.4f}"


def evaluate_tracking(
    gt: dict[int, Boxes], run: Run, iou: float = 0.5, class_aware: bool = True
) -> TrackingReport:
    """Score ``run`` against ``gt`` over the frames the run has a record of."""
    accumulator = motmetrics.MOTAccumulator(auto_id=False)
    scored = sorted(run.frames)
    for frame in scored:
        truth, tracks = gt.get(frame, Boxes()), run.frames[frame]
        keep = kept_tracks(truth, tracks, iou, class_aware)
        considered = np.array(truth.considered, bool)
        truth_boxes = truth.array()[considered]
        truth_ids = np.array(truth.ids, np.int64)[considered]
        track_boxes = tracks.array()[keep]
        track_ids = np.array(tracks.ids, np.int64)[keep]
        overlap = box_iou(truth_boxes, track_boxes)
        distance = np.where(overlap >= iou, 1.0 - overlap, np.nan)
        if class_aware:
            same = (
                np.array(truth.classes)[considered][:, None]
                == np.array(tracks.classes)[keep][None, :]
            )
            distance = np.where(same, distance, np.nan)
        accumulator.update(truth_ids.tolist(), track_ids.tolist(), distance, frameid=frame)
    summary = motmetrics.metrics.create().compute(accumulator, metrics=list(METRICS), name="run")
    metrics = {METRICS[k]: float(summary[k].iloc[0]) for k in METRICS}
    metrics["MOTP"] = 1.0 - metrics["MOTP"]  # motmetrics gives the mean 1 − IoU of matches
    missing = len(set(gt) - set(scored))
    return TrackingReport(metrics, len(scored), missing)


def count_differences(expected: Mapping[str, Any], got: Mapping[str, Any] | None) -> list[str]:
    """Where a run's final counts differ from the true ones: "line middle in: square 3 ≠ 2"
    per line direction, and per zone's entries; [] when they are equal."""
    got = got or {}
    differences = []
    for line, directions in expected.get("lines", {}).items():
        for direction, counts in directions.items():
            seen = got.get("lines", {}).get(line, {}).get(direction, {})
            for name in sorted(set(counts) | set(seen)):
                if counts.get(name, 0) != seen.get(name, 0):
                    differences.append(
                        f"line {line} {direction}: {name} {seen.get(name, 0)} ≠ "
                        f"{counts.get(name, 0)} true"
                    )
    for zone, numbers in expected.get("zones", {}).items():
        seen = got.get("zones", {}).get(zone, {}).get("entries", {})
        for name in sorted(set(numbers["entries"]) | set(seen)):
            if numbers["entries"].get(name, 0) != seen.get(name, 0):
                differences.append(
                    f"zone {zone} entries: {name} {seen.get(name, 0)} ≠ "
                    f"{numbers['entries'].get(name, 0)} true"
                )
    return differences
