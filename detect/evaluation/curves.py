"""Precision–recall curves read from COCOeval's accumulation, per category and overall.

``evaluation.eval["precision"]`` (IoU × recall × category × area × max detections) holds, for
each category, the interpolated precision at the 101 recall thresholds ``params.recThrs``; AP is
their mean — the area under the curve as COCO integrates it (a Riemann sum of 101 steps). The
overall curve is the mean over the categories with ground truth, so its area is the mAP.
"""

from __future__ import annotations

import csv
import functools
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
CELL = (1.2, 1.35)  # per-category panels: one unit square each, with room between


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
    atomic_write(path, functools.partial(figure.savefig, format="png", dpi=110))


def plot_per_category(curves: PrCurves, path: Path, order: list[str]) -> None:
    """Small multiples, one cell per category (in ``order``), a curve per IoU — drawn as cells
    of one plot (each recall 0–1 across, precision 0–1 up), which keeps 80 of them quick."""
    names = [name for name in order if any(name in c for c in curves.precision.values())]
    columns = min(8, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    figure = Figure(figsize=(1.8 * columns, 1.6 * rows + 0.4))
    axes = figure.add_axes((0.01, 0.01, 0.98, 0.98 - 0.4 / (1.6 * rows + 0.4)))
    colours = {iou: f"C{index}" for index, iou in enumerate(curves.precision)}
    for cell, name in enumerate(names):
        x, y = (cell % columns) * CELL[0], -(cell // columns) * CELL[1]
        frame = [x, x + 1, x + 1, x, x], [y, y, y + 1, y + 1, y]
        axes.plot(*frame, color="#999", linewidth=0.6)
        axes.plot([x, x + 1], [y + 0.5] * 2, color="#ddd", linewidth=0.5)
        areas = []
        for iou, by_name in curves.precision.items():
            if name in by_name:
                axes.step(
                    x + curves.recall,
                    y + by_name[name],
                    where="post",
                    color=colours[iou],
                    linewidth=1,
                )
                areas.append(f"{curves.area(iou, name):.2f}")
        axes.text(x, y + 1.04, f"{name} {' / '.join(areas)}", fontsize=7, va="bottom")
    axes.set_xlim(-0.05, columns * CELL[0])
    axes.set_ylim(-(rows - 1) * CELL[1] - 0.05, 1.2)
    axes.axis("off")
    legend = ", ".join(
        f"IoU {iou:g} ({colour})"
        for iou, colour in zip(curves.precision, ("blue", "orange"), strict=False)
    )
    figure.suptitle(
        f"precision (up, 0–1) against recall (across, 0–1); AP per {legend}", fontsize=8
    )
    atomic_write(path, functools.partial(figure.savefig, format="png", dpi=90))


def style(axes: Any, title: str) -> None:
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
