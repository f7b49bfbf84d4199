"""The evaluation report: every part written and linked, the per-class table sorted by AP, the
gallery drawn side by side, the page rendered by a headless browser, bad settings refused."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from support.detections import real_detections

from detect.errors import ConfigError
from detect.evaluation.coco_eval import CocoEvaluator
from detect.evaluation.gallery import GAP, PANEL_WIDTH, TITLE_HEIGHT
from detect.evaluation.report import ReportConfig, write_report


@pytest.fixture(scope="module")
def report(coco_val_set, tmp_path_factory):
    evaluator = CocoEvaluator(coco_val_set.coco, coco_val_set.categories)
    evaluator.results, evaluator.image_ids = real_detections(), set(coco_val_set.coco.getImgIds())
    metrics, _ = evaluator.compute()
    folder = tmp_path_factory.mktemp("report")
    page = write_report(
        evaluator, coco_val_set, metrics, folder, ReportConfig(worst_images=4), "checkpoint"
    )
    return page, metrics


@pytest.mark.slow
def test_the_report_writes_and_links_every_part(report):
    page, metrics = report
    text = page.read_text()
    linked = re.findall(r"src='([^']+)'", text)
    assert {"errors.png", "pr_overall.png", "pr_per_category.png", "confusion.png"} <= set(linked)
    assert all((page.parent / name).is_file() for name in linked)
    for table in ("errors.csv", "pr_curves.csv", "confusion.csv"):
        assert (page.parent / table).stat().st_size > 0
    with open(page.parent / "errors.csv") as file:
        rows = list(csv.DictReader(file))
    assert rows[0]["category"] == "all"
    assert float(rows[0]["AP@0.5"]) == pytest.approx(metrics["AP50"], abs=1e-4)
    # the per-class table, best AP first
    classes = text[text.index("Per class") : text.index("Precision–recall")]
    aps = [float(v) for v in re.findall(r"<tr><td>[^<]+</td><td>([0-9.]+)</td>", classes)]
    assert len(aps) > 50 and aps == sorted(aps, reverse=True)


def test_the_gallery_shows_the_worst_images_side_by_side(report):
    page, _ = report
    images = sorted((page.parent / "gallery").glob("*.jpg"))
    assert len(images) == 4
    for file in images:
        image = cv2.imread(str(file))
        height, width = image.shape[:2]
        assert width % 2 == GAP % 2 and (width - GAP) // 2 <= PANEL_WIDTH
        assert height > TITLE_HEIGHT
        assert f"gallery/{file.name}" in page.read_text()
    losses = [float(v) for v in re.findall(r"would add ([0-9.]+) to AP", page.read_text())]
    assert losses == sorted(losses, reverse=True) and losses[-1] > 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium to render the page")
def test_the_page_renders_in_a_headless_browser(report, tmp_path):
    page, _ = report
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = cv2.imread(str(shot))
    assert image.shape[:2] == (2400, 1280)
    assert np.std(image) > 20  # text, tables and plots, not a blank page


def test_bad_report_settings_name_the_key():
    with pytest.raises(ConfigError, match=r"report.background_iou \(0.6\) must be below"):
        ReportConfig(background_iou=0.6)
    with pytest.raises(ConfigError, match=r"report.score_thresh must be between 0 and 1"):
        ReportConfig(score_thresh=2)
    with pytest.raises(ConfigError, match=r"report.worst_images must be ≥ 0"):
        ReportConfig(worst_images=-1)
