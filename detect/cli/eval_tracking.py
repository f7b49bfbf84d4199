"""tools/eval_tracking.py: a run's tracks scored against MOTChallenge ground truth."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig

from detect.evaluation.tracking import (
    count_differences,
    evaluate_tracking,
    read_counts,
    read_mot,
    read_run,
)
from detect.io import atomic_write


def run_eval_tracking(cfg: DictConfig) -> dict[str, Any]:
    """Print the metrics table (and, with ``counts``, how the run's final counts compare with
    the true ones); write them as json to ``output`` when given."""
    gt = read_mot(cfg.gt, cfg.min_visibility)
    run = read_run(cfg.detections, cfg.source)
    if cfg.counts:
        read_counts(cfg.counts)  # a bad counts file stops before the scoring
    if run.repeated:
        print(
            f"note: {run.repeated} frame records repeated word for word in {cfg.detections}: "
            "each frame scored once"
        )
    report = evaluate_tracking(gt, run, cfg.iou, cfg.class_aware)
    print(f"{run.source} against {cfg.gt} (min_visibility {cfg.min_visibility}):\n")
    print(report.format())
    result: dict[str, Any] = {
        "source": run.source,
        "metrics": report.metrics,
        "frames_scored": report.frames_scored,
        "frames_missing": report.frames_missing,
    }
    if cfg.counts:
        expected = read_counts(cfg.counts)
        differences = count_differences(expected, run.counts)
        print("\ncounts: " + ("equal to the true counts" if not differences else "DIFFER"))
        for line in differences:
            print(f"  {line}")
        result.update(counts=run.counts, counts_exact=not differences, differences=differences)
    if cfg.output:
        atomic_write(cfg.output, json.dumps(result, indent=1))
    return result
