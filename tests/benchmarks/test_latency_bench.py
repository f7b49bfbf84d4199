"""tools/bench.py: torchvision's split forward, the twin on our weights, cost, side by side."""

import json
import math

import pytest
import torch
from support.tools import run_tool

from benchmarks.latency import bench, compare_detections
from benchmarks.latency_report import format_report
from benchmarks.twins import (
    TORCHVISION,
    TORCHVISION_MADDS,
    torchvision_runner,
    torchvision_ssdlite,
    torchvision_stages,
    torchvision_twin,
)
from detect.errors import DatasetError
from detect.evaluation.backend_runners import Backends
from detect.evaluation.cost import counted_cost
from detect.evaluation.latency import measure_runners
from detect.models import preprocess, ssdlite


@pytest.mark.slow
def test_torchvision_split_reproduces_its_forward_exactly():
    tv = torchvision_ssdlite(seed=0).eval()
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(3, h, w, generator=generator) for h, w in ((240, 320), (300, 200))]
    with torch.inference_mode():
        expected = tv(images)
    actual = torchvision_stages(tv, images)
    for mine, reference in zip(actual, expected, strict=True):
        assert len(reference["boxes"]) > 0
        for key in ("boxes", "scores", "labels"):
            assert torch.equal(mine[key], reference[key]), key


def test_torchvision_runner_gives_positive_stage_times():
    images = [torch.randint(0, 256, (3, 120, 160), dtype=torch.uint8)]
    tv = torchvision_ssdlite(seed=0)
    latency = measure_runners({"tv": torchvision_runner(tv, images)}, warmup=0, runs=1)["tv"]
    stages = (latency.preprocess, latency.network, latency.postprocess)
    assert all(stage.min > 0 for stage in stages)
    assert latency.total.median >= max(stage.median for stage in stages)


def test_ssdlite320_cost_matches_torchvision():
    model = ssdlite("v3_large", reduced_tail=True, num_classes=91, size=320)
    cost = counted_cost(model, 320)
    assert cost.params == 3_440_060
    assert cost.madds == pytest.approx(0.583e9, rel=0.02)
    assert round(TORCHVISION_MADDS) == 583_000_000


@pytest.mark.slow
def test_torchvision_twin_holds_our_weights_or_says_why_not():
    torch.manual_seed(1)
    ours = ssdlite("v3_large", reduced_tail=True, size=320).eval()
    with torch.no_grad():  # BN away from identity: outputs that vary, not constant logits
        for module in ours.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
    tv, why = torchvision_twin(ours, seed=0)
    assert why == ""
    image = [torch.randint(0, 256, (3, 200, 260), dtype=torch.uint8)]
    with torch.inference_mode():
        batch = preprocess(image, 320)
        mine = ours.postprocess(ours(batch.images), batch.original_sizes)
        theirs = tv([image[0].float() / 255])
    assert mine[0]["scores"].std() > 0
    same, detail = compare_detections(mine, theirs)
    assert same, detail
    assert "all scores are equal" not in detail
    tv, why = torchvision_twin(ssdlite("v2", size=320), 0)
    assert tv is None and "architecture is not torchvision's SSDLite320" in why
    _, why = torchvision_twin(ssdlite("v3_large", reduced_tail=True, size=300), 0)
    assert "fixed at 320" in why


@pytest.mark.slow
def test_side_by_side_on_real_images_gives_same_detections(coco_val_dir):
    report = bench(
        runs=2, warmup=0, images_dir=coco_val_dir, backends=Backends(("pytorch", "onnxruntime"))
    )
    assert [row.name for row in report.rows] == [
        "ssdlite v3_large ×1 320 reduced tail [pytorch]",
        "ssdlite v3_large ×1 320 reduced tail [onnxruntime]",
        "ssdlite v3_large ×1 320 reduced tail [onnxruntime, network only]",
        TORCHVISION,
    ]
    comparison = report.comparison
    assert comparison is not None and comparison.agree, comparison.checks
    ratios = comparison.time_ratios(comparison.ours[0])
    assert set(ratios) == {"preprocess", "network", "postprocess", "total"}
    onnx = comparison.ours[1].latency
    assert math.isnan(onnx.preprocess.median) and onnx.total.median == onnx.network.median
    assert report.rows[0].madds == report.rows[1].madds
    alone = comparison.ours[2].latency
    assert math.isnan(alone.postprocess.median) and alone.total.median > 0
    table = format_report(report)
    assert "ours ÷ torchvision" in table and "untrained" in table
    assert "its network alone" in table and "postprocessing is" in table
    # the floor's peak: matrix products timed between the pipelines' runs (not a row of its own)
    peak = report.settings["peak_gflops_interleaved"]
    floor = 2 * comparison.theirs.madds / (peak * 1e9) * 1000
    assert peak > 0 and f"({peak:.0f} GFLOP/s: the median" in table
    assert f"= {floor:.1f} ms; fastest of ours" in table


@pytest.mark.slow
def test_tool_writes_the_table_and_json(tmp_path):
    output = tmp_path / "bench.json"
    result = run_tool(
        "bench",
        "runs=2",
        "warmup=1",
        "backbones=[v3_small,v1]",
        "widths=[0.5]",
        "sizes=[160]",
        "images_dir=null",
        f"output={output}",
        check=True,
    )
    assert "| ssdlite v3_small ×0.5 160 reduced tail [pytorch] | untrained" in result.stdout
    assert "| ssdlite v1 ×0.5 160 [pytorch] | untrained" in result.stdout
    assert "torchvision comparison skipped" in result.stdout
    report = json.loads(output.read_text())
    assert [row["model"] for row in report["rows"]] == [
        "ssdlite v3_small ×0.5 160 reduced tail [pytorch]",
        "ssdlite v1 ×0.5 160 [pytorch]",
    ]
    row = report["rows"][0]
    assert row["params"] > 0 and row["madds"] > 0
    assert set(row["latency_ms"]) == {"preprocess", "network", "postprocess", "total"}
    assert row["latency_ms"]["total"]["median"] > 0
    assert report["settings"]["threads"] == 2 and report["comparison"] is None


def test_missing_image_folder_is_a_clear_error():
    with pytest.raises(DatasetError, match="image folder not found: /nonexistent"):
        bench(images_dir="/nonexistent", runs=1, warmup=0)
