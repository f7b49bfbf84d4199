"""The latency harness: statistics, per-stage timing of our detector and of any detector."""

import math

import pytest
import torch

from detect.evaluation.latency import (
    Latency,
    Stats,
    measure_detector,
    measure_runners,
    opaque_runner,
    threads,
)
from detect.models import ssdlite
from detect.models.predictor import Predictor


def test_stats_from_samples_in_milliseconds():
    stats = Stats.from_samples([0.001 * i for i in (7, 3, 10, 1, 5, 2, 9, 4, 6, 8)])
    assert stats.median == pytest.approx(5.5)
    assert stats.p90 == pytest.approx(9.1)  # linear interpolation between ranks, as numpy
    assert stats.min == pytest.approx(1.0)
    assert Stats.from_samples([0.002]) == Stats(2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="runs must be at least 1"):
        Stats.from_samples([])


def test_total_is_summarised_per_run_not_summed_from_medians():
    latency = Latency.from_runs([(0.001, 0.002, 0.003), (0.010, 0.0, 0.0), (0.0, 0.0, 0.001)])
    assert latency.total.median == pytest.approx(6.0)
    assert latency.preprocess.median + latency.network.median + latency.postprocess.median == (
        pytest.approx(2.0)
    )


def test_threads_sets_and_restores():
    before = torch.get_num_threads()
    with threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _check(latency: Latency) -> None:
    stages = (latency.preprocess, latency.network, latency.postprocess)
    for stage in stages:
        assert stage.min > 0
        assert stage.min <= stage.median <= stage.p90
    for field in ("median", "p90", "min"):
        assert all(getattr(latency.total, field) >= getattr(s, field) for s in stages)


def test_harnesses_give_positive_stage_times_within_the_total():
    images = [torch.randint(0, 256, (3, 120, 160), dtype=torch.uint8)]
    torch.manual_seed(0)
    model = ssdlite("v3_small", 0.5, size=160)
    _check(measure_detector(model, images, warmup=1, runs=3))
    opaque = measure_runners({"any": opaque_runner(Predictor(model), images)}, warmup=0, runs=2)
    latency = opaque["any"]  # one call holds every stage: reported as the network
    assert math.isnan(latency.preprocess.median) and math.isnan(latency.postprocess.median)
    assert latency.total.median == latency.network.median > 0
