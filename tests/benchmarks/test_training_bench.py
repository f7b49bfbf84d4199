"""Training-throughput benchmark: both loops measured on a tiny setting, results and json."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf
from support.configs import compose_config
from support.paths import BENCHMARKS_CONF_DIR
from support.tools import run_tool

from benchmarks.training import (
    OURS,
    THEIRS,
    TrainingComparison,
    compare_training,
    format_comparison,
    synthetic_batches,
)

TINY = {"batch_size": 2, "threads": 1, "warmup": 1, "steps": 2, "repeats": 2}


def model_config(size: int) -> dict:
    """benchmarks/conf/bench_train.yaml's ``model`` node (torchvision's SSDLite) at ``size``."""
    cfg = compose_config("bench_train", [f"size={size}"], BENCHMARKS_CONF_DIR)
    return OmegaConf.to_container(cfg.model, resolve=True)


@pytest.fixture(scope="module")
def comparison() -> TrainingComparison:
    threads = torch.get_num_threads()
    result = compare_training(model_config(96), **TINY)
    assert torch.get_num_threads() == threads, "the thread count is restored"
    return result


@pytest.mark.slow
def test_both_loops_are_measured(comparison):
    assert [comparison.ours.name, comparison.theirs.name] == [OURS, THEIRS]
    for row in (comparison.ours, comparison.theirs):
        assert len(row.periods) == TINY["repeats"]
        assert all(len(round_) == TINY["steps"] for round_ in row.periods)
        assert row.images == TINY["repeats"] * TINY["steps"] * TINY["batch_size"]
        assert row.images_per_second > 0 and row.seconds > 0
        assert all(rate > 0 for rate in row.round_images_per_second)
        assert row.threads == TINY["threads"]
    assert comparison.ratio == pytest.approx(
        comparison.ours.images_per_second / comparison.theirs.images_per_second
    )


def test_same_model_and_data_give_the_same_first_loss(comparison):
    assert comparison.same_loss and comparison.comparison.agree
    assert comparison.ours.first_loss == pytest.approx(comparison.theirs.first_loss, rel=1e-5)


def test_json_round_trip(comparison, tmp_path):
    path = tmp_path / "nested" / "bench_train.json"
    comparison.to_json(path)
    report = json.loads(path.read_text())
    assert [row["name"] for row in report["rows"]] == [OURS, THEIRS]
    assert report["ratio"] == pytest.approx(comparison.ratio)
    assert report["rows"][0]["images_per_second"] == pytest.approx(
        comparison.ours.images_per_second
    )
    assert report["settings"]["batch_size"] == TINY["batch_size"]
    assert report["settings"]["size"] == 96
    assert report["same_first_loss"] is True


def test_table_shows_both_rows_and_the_ratio(comparison):
    table = format_comparison(comparison, min_ratio=0.9)
    assert f"| {OURS} |" in table and f"| {THEIRS} |" in table
    assert f"ours ÷ torchvision: {comparison.ratio:.2f}×" in table


def test_synthetic_boxes_are_valid_and_inside_the_image():
    (images, targets), *_ = synthetic_batches(2, 3, 64, boxes_per_image=5)
    assert [tuple(image.shape) for image in images] == [(3, 64, 64)] * 3
    for target in targets:
        boxes = target["boxes"]
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert ((target["labels"] >= 1) & (target["labels"] <= 90)).all()


def test_the_first_step_is_never_timed():
    with pytest.raises(ValueError, match="at least 1"):
        compare_training(model_config(96), warmup=0)


@pytest.mark.slow
def test_tool_prints_the_table_and_writes_json(tmp_path):
    output = tmp_path / "bench.json"
    overrides = [f"{key}={value}" for key, value in TINY.items() if key != "repeats"]
    result = run_tool(
        "bench_train", *overrides, "repeats=1", "size=96", f"output={output}", check=True
    )
    assert f"| {OURS} |" in result.stdout and "ours ÷ torchvision:" in result.stdout
    assert json.loads(output.read_text())["settings"]["repeats"] == 1
