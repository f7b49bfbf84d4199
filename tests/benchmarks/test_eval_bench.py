"""tools/bench_eval.py on a small synthetic set: both backends timed, the same numbers."""

from __future__ import annotations

import json

import pytest
from support.configs import compose_config
from support.paths import BENCHMARKS_CONF_DIR

from benchmarks.coco_eval import run_bench_eval


def test_bench_eval_times_both_backends_and_they_agree(tmp_path, capsys):
    pytest.importorskip("faster_coco_eval")
    output = tmp_path / "bench.json"
    overrides = ["images=60", "repeats=1", f"output={output}"]
    figures = run_bench_eval(compose_config("bench_eval", overrides, BENCHMARKS_CONF_DIR))
    out = capsys.readouterr().out
    assert "| pycocotools |" in out and "| faster_coco_eval |" in out
    assert figures["detections"] == 60 * 100
    assert 0.05 < figures["AP"] < 0.95  # a detector with errors, not a trivial set
    assert figures["max_summary_difference"] <= 1e-6
    assert figures["max_per_category_difference"] <= 1e-6
    assert figures["speedup"] > 0
    assert json.loads(output.read_text()) == figures
