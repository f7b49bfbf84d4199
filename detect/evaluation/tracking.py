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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import motmetrics
import numpy as np

from detect.evaluation.tracking_files import Boxes, Run, read_counts, read_mot, read_run
from detect.inference.tracking import assign, box_iou

__all__ = [
    "Boxes",
    "Run",
    "count_differences",
    "evaluate_tracking",
    "read_counts",
    "read_mot",
    "read_run",
]

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
