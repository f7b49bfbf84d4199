"""ExecuTorch, PyTorch's on-device runtime: ``detect export format=executorch`` writes an
XNNPACK-delegated ``.pte`` checked against PyTorch, which ``backend=executorch`` loads, and which
ExecuTorch's own runtime — ``executorch.runtime`` alone, no code of ours — runs on 20 real COCO
images to the raw heads that give our detections."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from support.tools import output, run_tool

from detect.data.images import load_images
from detect.errors import ConfigError
from detect.export.onnx import match_detections, to_numpy
from detect.export.variants import plan_export
from detect.models.predictor import Predictor
from detect.weights.checkpoint import load_checkpoint

COUNT = 20


def test_executorch_export_is_the_network_alone_in_fp32():
    plan = plan_export("executorch")
    assert (plan.precisions, plan.postprocess, plan.suffix) == (("fp32",), False, ".pte")
    with pytest.raises(ConfigError, match="format=executorch"):
        plan_export("executorch", ("fp32", "int8"))
    with pytest.raises(ConfigError, match="format=executorch"):
        plan_export("executorch", ("fp32",), True)


@pytest.fixture(scope="module")
def exported(trained_like_ckpt):
    pytest.importorskip("executorch", reason="the executorch extra is not installed")
    result = run_tool(
        "export", f"ckpt={trained_like_ckpt}", "format=executorch", "check.count=4", timeout=900
    )
    assert result.returncode == 0, output(result)[-3000:]
    assert "checked against PyTorch: 4 images" in result.stdout and "equal" in result.stdout
    file = trained_like_ckpt.parent.parent / "export" / "last.pte"
    assert file.is_file() and file.with_suffix(".json").is_file()
    return file


@pytest.mark.slow
def test_executorchs_own_runtime_gives_our_detections(exported, trained_like_ckpt, coco_val_dir):
    from executorch.runtime import Runtime

    model = load_checkpoint(trained_like_ckpt).model.eval()
    images = load_images(coco_val_dir, COUNT)
    method = Runtime.get().load_program(str(exported)).load_method("forward")
    matched = 0
    for image in images:
        size = model.size
        pixels = F.interpolate(image[None].float(), size=(size, size), mode="bilinear") / 127.5 - 1
        logits, codes = method.execute([pixels.contiguous()])[:2]
        outputs = {"cls_logits": logits, "bbox_regression": codes}
        with torch.no_grad():
            theirs = model.postprocess(outputs, [tuple(image.shape[1:])])[0]
        ours = Predictor(model)([image])[0]
        unmatched, box, score = match_detections(to_numpy(theirs), to_numpy(ours))
        assert unmatched == 0 and box <= 0.01 and score <= 1e-4, (unmatched, box, score)
        matched += len(ours["scores"])
    assert matched >= COUNT


@pytest.mark.slow
def test_backend_executorch_loads_the_file(exported, trained_like_ckpt, coco_images):
    from detect.inference.backends import load_detector

    loaded = load_detector(exported, backend="executorch")
    assert loaded.backend == "executorch" and "executorch, fp32, raw" in loaded.description
    model = load_checkpoint(trained_like_ckpt).model
    for mine, theirs in zip(
        loaded.detector(coco_images[:4]), Predictor(model)(coco_images[:4]), strict=True
    ):
        unmatched, box, score = match_detections(to_numpy(mine), to_numpy(theirs))
        assert unmatched == 0 and box <= 0.01 and score <= 1e-4, (unmatched, box, score)
