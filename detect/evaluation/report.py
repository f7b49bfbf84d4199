"""One HTML page per evaluation: the summary, where the AP is lost (TIDE), per-class AP,
precision–recall curves, the confusion matrix and the worst images — with every table as CSV
and every plot as PNG beside it.

``report.html`` links only files in its own folder, so the folder can be copied or served as is.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from detect.data.coco import CocoDetection
from detect.errors import ConfigError
from detect.evaluation.coco_eval import METRICS, CocoEvaluator
from detect.evaluation.confusion import (
    caption,
    confusion_matrix,
    plot_confusion,
    write_confusion_csv,
)
from detect.evaluation.curves import (
    OVERALL,
    plot_overall,
    plot_per_category,
    pr_curves,
    write_curves_csv,
)
from detect.evaluation.gallery import GalleryImage, write_gallery
from detect.evaluation.tide import ERROR_NAMES, ERROR_TYPES, ErrorAnalysis, ErrorBreakdown
from detect.io import atomic_write

ERROR_COLOURS = {
    "cls": "#e6550d",
    "loc": "#3182bd",
    "both": "#756bb1",
    "dupe": "#31a354",
    "bkg": "#fdae6b",
    "miss": "#636363",
}
PAGE = "report.html"


@dataclass(frozen=True)
class ReportConfig:
    """``score_thresh``: the confusion matrix's and the gallery's detections; ``iou_thresh``:
    the confusion matrix's match; ``foreground_iou`` / ``background_iou``: TIDE's t_f / t_b;
    ``worst_images``: how many images the gallery shows."""

    score_thresh: float = 0.3
    iou_thresh: float = 0.5
    foreground_iou: float = 0.5
    background_iou: float = 0.1
    worst_images: int = 12

    def __post_init__(self) -> None:
        for key in ("score_thresh", "background_iou"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"report.{key} must be between 0 and 1, got {getattr(self, key)}")
        for key in ("iou_thresh", "foreground_iou"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ConfigError(
                    f"report.{key} must be above 0 and at most 1, got {getattr(self, key)}"
                )
        if self.background_iou >= self.foreground_iou:
            raise ConfigError(
                f"report.background_iou ({self.background_iou}) must be below "
                f"report.foreground_iou ({self.foreground_iou})"
            )
        if self.worst_images < 0:
            raise ConfigError(f"report.worst_images must be ≥ 0, got {self.worst_images}")


def write_report(
    evaluator: CocoEvaluator,
    dataset: CocoDetection,
    metrics: dict[str, float],
    folder: Path,
    config: ReportConfig,
    title: str,
) -> Path:
    """Everything in ``folder`` (see the module doc); returns the page's path. Call after
    ``evaluator.compute()``."""
    truth, results, categories = dataset.coco, evaluator.results, dataset.categories
    image_ids = sorted(evaluator.image_ids)
    breakdown = ErrorAnalysis(
        truth, results, image_ids, config.foreground_iou, config.background_iou
    ).breakdown()
    write_errors_csv(breakdown, categories, folder / "errors.csv")
    plot_errors(breakdown, categories, folder / "errors.png")
    sections = [summary_section(metrics, evaluator, title), errors_section(breakdown, categories)]
    ap75: dict[str, float] = {}
    if evaluator.evaluation is not None:
        curves = pr_curves(evaluator.evaluation, categories)
        ap75 = {name: curves.area(0.75, name) for name in curves.precision[0.75]}
        by_ap = sorted(
            (name for name in curves.precision[0.5] if name != OVERALL),
            key=lambda name: -curves.area(0.5, name),
        )
        write_curves_csv(curves, folder / "pr_curves.csv")
        plot_overall(curves, folder / "pr_overall.png")
        plot_per_category(curves, folder / "pr_per_category.png", by_ap)
        per_class = evaluator.per_category()
    else:
        per_class = dict.fromkeys(categories.names, (math.nan, math.nan))
    sections.append(classes_section(per_class, ap75, breakdown, categories, results, config))
    if evaluator.evaluation is not None:
        sections.append(curves_section())
    matrix = confusion_matrix(
        truth, results, image_ids, categories, config.score_thresh, config.iou_thresh
    )
    write_confusion_csv(matrix, categories, folder / "confusion.csv")
    plot_confusion(
        matrix, categories, folder / "confusion.png", config.score_thresh, config.iou_thresh
    )
    sections.append(confusion_section(config))
    gallery = write_gallery(
        breakdown,
        truth,
        results,
        categories,
        dataset.image_dir,
        folder / "gallery",
        config.worst_images,
        config.score_thresh,
    )
    sections.append(gallery_section(gallery, config, breakdown.foreground_iou))
    return atomic_write(folder / PAGE, page(title, sections))


def error_rows(breakdown: ErrorBreakdown, categories) -> list[list[str]]:
    """``all`` then each class with ground truth: AP, ΔAP per type, error counts per type."""
    rows = [
        [
            "all",
            f"{breakdown.overall_ap:.4f}",
            *(f"{breakdown.overall_delta(e):.4f}" for e in ERROR_TYPES),
            *(str(breakdown.total_count(e)) for e in ERROR_TYPES),
        ]
    ]
    for coco_id, ap in sorted(breakdown.ap.items(), key=lambda item: item[1]):
        rows.append(
            [
                categories.names[categories.label(coco_id) - 1],
                f"{ap:.4f}",
                *(f"{breakdown.delta[e][coco_id]:.4f}" for e in ERROR_TYPES),
                *(str(breakdown.counts[e].get(coco_id, 0)) for e in ERROR_TYPES),
            ]
        )
    return rows


def error_header(breakdown: ErrorBreakdown) -> list[str]:
    iou = f"{breakdown.foreground_iou:g}"
    return [
        "category",
        f"AP@{iou}",
        *(f"dAP {e}" for e in ERROR_TYPES),
        *(f"n {e}" for e in ERROR_TYPES),
    ]


def write_errors_csv(breakdown: ErrorBreakdown, categories, path: Path) -> None:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(error_header(breakdown))
    writer.writerows(error_rows(breakdown, categories))
    atomic_write(path, text.getvalue())


def plot_errors(breakdown: ErrorBreakdown, categories, path: Path, top: int = 15) -> None:
    """Bars: ΔAP per error type overall (left) and, stacked, for the ``top`` classes that
    lose the most (right)."""
    figure = Figure(figsize=(12, 4.8))
    overall, per_class = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    values = [breakdown.overall_delta(e) for e in ERROR_TYPES]
    labels = [ERROR_NAMES[e] for e in ERROR_TYPES]
    bars = overall.barh(labels, values, color=[ERROR_COLOURS[e] for e in ERROR_TYPES])
    overall.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    overall.invert_yaxis()
    overall.set_xlabel(f"ΔAP@{breakdown.foreground_iou:g} if fixed (oracle)")
    overall.set_title(f"all categories: AP@{breakdown.foreground_iou:g} {breakdown.overall_ap:.3f}")
    overall.set_xlim(0, max([*values, 1e-3]) * 1.25)
    losses = {c: sum(breakdown.delta[e][c] for e in ERROR_TYPES) for c in breakdown.ap}
    worst = sorted(losses, key=lambda c: -losses[c])[:top]
    names = [categories.names[categories.label(c) - 1] for c in worst]
    left = np.zeros(len(worst))
    for error in ERROR_TYPES:
        widths = np.array([breakdown.delta[error][c] for c in worst])
        per_class.barh(
            names, widths, left=left, color=ERROR_COLOURS[error], label=ERROR_NAMES[error]
        )
        left += widths
    per_class.invert_yaxis()
    per_class.tick_params(axis="y", labelsize=8)
    per_class.set_xlabel("ΔAP per type, stacked (each fixed alone)")
    per_class.set_title(f"the {len(worst)} categories losing the most")
    per_class.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    atomic_write(path, functools.partial(figure.savefig, format="png", dpi=110))


# --- the page ------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f4f4f4; } .note { color: #555; font-size: 13px; max-width: 900px; }
img { max-width: 100%; } figure { margin: 12px 0; }
figcaption { font-size: 13px; color: #444; }
.scroll { max-height: 480px; overflow-y: auto; display: inline-block; }
"""


def table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def image(src: str, alt: str) -> str:
    """A picture of the page, linked to itself at full size."""
    return f"<a href='{src}'><img src='{src}' alt='{html.escape(alt)}'></a>"


def page(title: str, sections: list[str]) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        + "".join(sections)
        + "</body></html>"
    )


def metric_text(value: float) -> str:
    """pycocotools' −1 ("no ground truth of this size") is said, not printed as a score."""
    return "−1 (no ground truth of this size)" if value == -1 else f"{value:.4f}"


def summary_section(metrics: dict[str, float], evaluator: CocoEvaluator, title: str) -> str:
    rows = [[name, metric_text(metrics[name])] for name in METRICS]
    return (
        f"<h2>Summary</h2><p class='note'>{len(evaluator.image_ids)} images, "
        f"{len(evaluator.results)} detections, COCO metrics by {evaluator.backend}.</p>"
        + table(["metric", "value"], rows)
    )


def errors_section(breakdown: ErrorBreakdown, categories) -> str:
    iou = f"{breakdown.foreground_iou:g}"
    note = (
        "Where the AP is lost, in the manner of TIDE (Bolya et al., ECCV 2020): each false "
        f"positive at IoU {iou} is a <b>classification</b> error (IoU ≥ {iou} with a box of "
        f"another class), a <b>localisation</b> error ({breakdown.background_iou:g} ≤ IoU < "
        f"{iou} with a box of its class), <b>cls + loc</b> (that IoU range, another class only), "
        f"a <b>duplicate</b> (IoU ≥ {iou} with a box of its class already found) or "
        f"<b>background</b> (IoU < {breakdown.background_iou:g} with every box); a "
        "<b>missed GT</b> is a box nothing found or aimed at. dAP is what fixing only that type "
        "would add to AP (its oracle: an error made the true positive of the box it aimed at, "
        "or suppressed; a missed box removed); n counts the errors. With every oracle at once "
        f"AP would be {breakdown.all_fixed:.4f}."
    )
    rows = error_rows(breakdown, categories)
    return (
        f"<h2>Where the AP is lost</h2><p class='note'>{note}</p>"
        f"<figure>{image('errors.png', 'AP lost per error type')}</figure>"
        f"<div class='scroll'>{table(error_header(breakdown), rows)}</div>"
        "<p class='note'>Also as errors.csv.</p>"
    )


def classes_section(
    per_class: dict[str, tuple[float, float]],
    ap75: dict[str, float],
    breakdown: ErrorBreakdown,
    categories,
    results: list[dict],
    config: ReportConfig,
) -> str:
    detections = {name: 0 for name in categories.names}
    for result in results:
        if result["score"] >= config.score_thresh:
            detections[categories.names[categories.label(result["category_id"]) - 1]] += 1
    rows = []
    order = sorted(
        per_class, key=lambda name: (math.isnan(per_class[name][0]), -per_class[name][0])
    )
    for name in order:
        ap, ap50 = per_class[name]
        if math.isnan(ap):
            continue
        coco_id = categories.coco_id(categories.names.index(name) + 1)
        worst = max(ERROR_TYPES, key=lambda e: breakdown.delta[e].get(coco_id, 0.0))
        loss = breakdown.delta[worst].get(coco_id, 0.0)
        rows.append(
            [
                name,
                f"{ap:.4f}",
                f"{ap50:.4f}",
                f"{ap75.get(name, math.nan):.4f}",
                str(breakdown.num_gt.get(coco_id, 0)),
                str(detections[name]),
                f"{ERROR_NAMES[worst]} ({loss:.4f})" if loss > 0 else "—",
            ]
        )
    header = [
        "category",
        "AP",
        "AP50",
        "AP75",
        "GT boxes",
        f"detections ≥ {config.score_thresh:g}",
        f"largest loss (dAP@{breakdown.foreground_iou:g})",
    ]
    return (
        "<h2>Per class, best AP first</h2><p class='note'>Classes with ground truth in the "
        "images scored.</p>" + f"<div class='scroll'>{table(header, rows)}</div>"
    )


def curves_section() -> str:
    return (
        "<h2>Precision–recall</h2><p class='note'>COCOeval's interpolated precision at its 101 "
        "recall thresholds (area all, 100 detections); the area under each curve is its AP. "
        "Data: pr_curves.csv.</p>"
        f"<figure>{image('pr_overall.png', 'overall precision-recall')}</figure>"
        f"<figure>{image('pr_per_category.png', 'precision-recall per category')}"
        "<figcaption>Per category, best AP first; titles give AP at IoU 0.5 / 0.75."
        "</figcaption></figure>"
    )


def confusion_section(config: ReportConfig) -> str:
    return (
        "<h2>Confusion matrix</h2>"
        f"<figure>{image('confusion.png', 'confusion matrix')}"
        f"<figcaption>{html.escape(caption(config.score_thresh, config.iou_thresh))} Classes "
        "that never occur are left out of the plot; confusion.csv has them all.</figcaption>"
        "</figure>"
    )


def gallery_section(gallery: list[GalleryImage], config: ReportConfig, iou: float) -> str:
    if not gallery:
        return "<h2>Worst images</h2><p class='note'>No image loses any AP.</p>"
    figures = []
    for item in gallery:
        errors = ", ".join(f"{ERROR_NAMES[e]} {n}" for e, n in item.errors.items())
        figures.append(
            f"<figure>{image(f'gallery/{item.file}', item.source)}"
            f"<figcaption>{html.escape(item.source)}: fixing its errors would add "
            f"{item.loss:.4f} to AP@{iou:g} — {html.escape(errors)}</figcaption></figure>"
        )
    return (
        "<h2>Worst images</h2><p class='note'>The images whose errors cost the most AP "
        "(fixed alone). Left: ground truth; right: detections scoring ≥ "
        f"{config.score_thresh:g}, false positives tagged with their error type.</p>"
        + "".join(figures)
    )
