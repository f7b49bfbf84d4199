"""Precision–recall curves read from COCOeval's accumulation, per category and overall.

``evaluation.eval["precision"]`` (IoU × recall × category × area × max detections) holds, for
each category, the interpolated precision at the 101 recall thresholds ``params.recThrs``; AP is
their mean — the area under the curve as COCO integrates it (a Riemann sum of 101 steps). The
overall curve is the mean over the categories with ground truth, so its area is the mAP.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from detect.data.categories import CategoryMap
from detect.io import atomic_write

CURVE_IOUS = (0.5, 0.75)
OVERALL = "all"


@dataclass(frozen=True)
class PrCurves:
    """``precision[iou][name]`` at ``recall`` (the 101 thresholds); ``name`` is a category or
    ``all``; categories without ground truth are left out."""

    recall: np.ndarray
    precision: dict[float, dict[str, np.ndarray]]

    def area(self, iou: float, name: str = OVERALL) -> float:
        """The area under a curve: the AP pycocotools reports for it."""
        return float(self.precision[iou][name].mean())


def pr_curves(evaluation: Any, categories: CategoryMap, ious=CURVE_IOUS) -> PrCurves:
    """The curves at ``ious`` (each one of COCOeval's thresholds), area "all", 100 detections."""
    params = evaluation.params
    precision = evaluation.eval["precision"]
    curves: dict[float, dict[str, np.ndarray]] = {}
    for iou in ious:
        [[index]] = np.nonzero(np.isclose(params.iouThrs, iou))
        at_iou = precision[index, :, :, 0, -1]  # recall × category
        valid = (at_iou > -1).all(axis=0)
        curves[iou] = {name: at_iou[:, k] for k, name in enumerate(categories.names) if valid[k]}
        if valid.any():
            curves[iou][OVERALL] = at_iou[:, valid].mean(axis=1)
    return PrCurves(np.asarray(params.recThrs), curves)


def write_curves_csv(curves: PrCurves, path: Path) -> None:
    """One row per (IoU, curve, recall threshold)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["iou", "category", "recall", "precision"])
    for iou, by_name in curves.precision.items():
        for name, precision in by_name.items():
            for recall, value in zip(curves.recall, precision, strict=True):
                writer.writerow([iou, name, f"{recall:.2f}", f"{value:.6f}"])
    atomic_write(path, text.getvalue())


def plot_overall(curves: PrCurves, path: Path) -> None:
    """The overall curve at each IoU, its area in the legend."""
    figure = Figure(figsize=(5.5, 4.5))
    axes = figure.subplots()
    for iou, by_name in curves.precision.items():
        if OVERALL in by_name:
            label = f"IoU {iou:g}: AP {curves.area(iou):.3f}"
            axes.step(curves.recall, by_name[OVERALL], where="post", label=label)
    style(axes, "precision–recall, all categories (mean)")
    axes.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plot_per_category(curves: PrCurves, path: Path, order: list[str]) -> None:
    """Small multiples: one panel per category (in ``order``), a curve per IoU."""
    names = [name for name in order if any(name in c for c in curves.precision.values())]
    columns = min(6, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    figure = Figure(figsize=(2.6 * columns, 2.3 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, name in zip(grid.flat, names, strict=False):
        areas = []
        for iou, by_name in curves.precision.items():
            if name in by_name:
                axes.step(curves.recall, by_name[name], where="post", label=f"{iou:g}")
                areas.append(f"{curves.area(iou, name):.2f}")
        style(axes, f"{name} ({' / '.join(areas)})", small=True)
    for axes in list(grid.flat)[len(names) :]:
        axes.set_visible(False)
    if names:
        grid.flat[0].legend(title="IoU", fontsize=7, title_fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def style(axes: Any, title: str, small: bool = False) -> None:
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(title, fontsize=8 if small else 11)
    axes.grid(alpha=0.3)
    if not small:
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
    else:
        axes.tick_params(labelsize=6)
