"""The tracking bench's targets: a run meets them only with every figure at its bar and exact
line counts, and the verdict counts and names the seeds that do, out of all of them."""

from __future__ import annotations

from detect.benchmarks.tracking import meets, verdict


def result(mota: float, idf1: float, exact: bool) -> dict:
    return {"MOTA": mota, "IDF1": idf1, "counts exact": exact}


def test_a_run_meets_the_target_only_with_every_figure_and_exact_counts():
    assert meets(result(0.95, 0.92, True), idf1=0.9, mota=0.9)
    assert not meets(result(0.95, 0.92, False), idf1=0.9, mota=0.9)  # a count off
    assert not meets(result(0.89, 0.92, True), idf1=0.9, mota=0.9)
    assert not meets(result(0.95, 0.89, True), idf1=0.9, mota=0.9)
    assert meets(result(0.5, 0.85, True), idf1=0.8, mota=None)  # realtime: IDF1 alone


def test_the_verdict_counts_the_seeds_that_meet_out_of_all():
    runs = {1: {"meets": False}, 2: {"meets": True}, 7: {"meets": True}}
    assert verdict(runs, "every frame", "the bar") == (
        "every frame: 2 of 3 seeds meet the bar (seeds 2, 7)"
    )
    assert verdict({1: {"meets": False}}, "realtime", "the bar") == (
        "realtime: 0 of 1 seeds meet the bar"
    )
