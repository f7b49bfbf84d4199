"""Every export format on every kind of model we load: ``detect export format=…`` at its default
settings exits 0 with its fp32 file "equal" to PyTorch — on a V1, a V2 and a V3-Small checkpoint
(small, trained-like weights) and on torchvision's COCO SSDLite architecture (its 91-slot head,
weights made here and imported through ``torchvision:… hub.weights_path=…``).

torchvision's head folds ten N/A outputs into background; the export expresses that fold with
slices (:class:`~detect.export.graph.PortableHead`), so one graph converts everywhere: before it,
OpenVINO refused the log-sum-exp's shape and pnnx had no ``index_select``. The fast tests check
that graph; the matrix (one conversion each, up to a minute for LiteRT) is slow-tier. ``web`` is
the ``onnx`` row's graph behind a page (tests/export/test_browser_web.py).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from support.paths import needs_real_data
from support.tools import output, run_tool
from support.torchvision_weights import NAME, SPEC, torchvision_weights_file

from detect.export.formats import EXPORT_FORMATS
from detect.export.graph import PortableHead, portable
from detect.export.onnx import export_bytes, metadata_for
from detect.models import preprocess
from detect.weights.hub import HubConfig
from detect.weights.torchvision import torchvision_detector

pytestmark = needs_real_data

FORMATS = {name: suffix for name, suffix in EXPORT_FORMATS.items() if name != "web"}
# our small checkpoints go through the formats converted in seconds; LiteRT, MediaPipe and
# ExecuTorch take 1-4 min a conversion, so in the suite they convert torchvision's model (the
# one users deploy) and V3-Small (tests/export/test_litert.py, test_mediapipe.py,
# test_executorch.py); V1 and V2 through them passed once by hand (CI time)
QUICK_FORMATS = ("onnx", "openvino", "ncnn")
NEEDS = {"tflite": ("litert_torch",), "openvino": ("openvino",), "ncnn": ("pnnx", "ncnn")}
NEEDS["mediapipe"] = ("litert_torch", "mediapipe")
NEEDS["executorch"] = ("executorch",)
BACKBONES = ("v1", "v2", "v3_small")  # and torchvision's V3-Large COCO model
CHECKED = 4  # images each export is checked on


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory, coco_images) -> Path:
    return torchvision_weights_file(tmp_path_factory.mktemp("torchvision"), coco_images[:8])


@pytest.fixture(scope="module")
def torchvision_model(torchvision_file):
    return torchvision_detector(NAME, HubConfig(weights_path=str(torchvision_file)))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, coco_images) -> dict[str, Path]:
    """A trained-like 96-px checkpoint (width 0.5) of each backbone, on the tiny shapes set."""
    from support.checkpoints import make_trained_like_checkpoint

    made = {}
    for backbone in BACKBONES:
        folder = tmp_path_factory.mktemp(backbone)
        (folder / "run" / "checkpoints").mkdir(parents=True)
        made[backbone] = make_trained_like_checkpoint(
            folder / "run" / "checkpoints" / "last.ckpt",
            folder / "shapes",
            coco_images,
            backbone,
            0.5,
        )
    return made


def test_portable_head_is_the_heads_arithmetic(torchvision_model, coco_images):
    model = torchvision_model.model
    assert len(model.head.folded_classes) == 10  # torchvision's N/A outputs
    copy = portable(model)
    assert isinstance(copy.head, PortableHead) and copy is not model
    assert portable(copy) is copy
    batch = preprocess(coco_images[:2], model.size).images
    with torch.no_grad():
        folded, sliced = model(batch), copy(batch)
    for key in ("cls_logits", "bbox_regression"):
        assert folded[key].shape == sliced[key].shape
        torch.testing.assert_close(sliced[key], folded[key], rtol=0, atol=1e-5)
    assert not isinstance(model.head, PortableHead)  # the model itself is left as it was


def test_a_head_without_folded_classes_exports_as_it_is():
    from detect.models import ssdlite

    model = ssdlite("v3_small", 0.25, 4, 96)
    assert portable(model) is model


@pytest.mark.parametrize("outputs", ["raw", "detections"])
def test_the_torchvision_graph_has_only_slices_for_the_fold(torchvision_model, outputs):
    """No Gather on the class logits and no ReduceLogSumExp: what OpenVINO and pnnx refused."""
    checkpoint = torchvision_model
    metadata = metadata_for(checkpoint.model, checkpoint.categories, {}, {}, outputs)
    graph = onnx.load_from_string(export_bytes(checkpoint.model, metadata)).graph
    kinds = {node.op_type for node in graph.node}
    assert "ReduceLogSumExp" not in kinds
    fold = [node for node in graph.node if node.name.startswith("/model/head/")]
    assert {"Slice", "ReduceMax", "Exp", "ReduceSum", "Log", "Concat"} <= {
        node.op_type for node in fold
    }
    gathers = [node for node in fold if node.op_type == "Gather"]
    assert all("/Shape" in node.input[0] for node in gathers)  # the batch size, no logits


def export_command(ckpt: str, fmt: str, out: Path, *extra: str):
    for module in NEEDS.get(fmt, ()):
        pytest.importorskip(module, reason=f"{module} is not installed (see the extras)")
    result = run_tool(
        "export",
        f"ckpt={ckpt}",
        f"format={fmt}",
        f"output={out}",
        f"check.count={CHECKED}",
        *extra,
        timeout=900,
    )
    text = output(result)
    assert result.returncode == 0, text[-3000:]
    assert f"checked against PyTorch: {CHECKED} images" in result.stdout, text[-3000:]
    assert "equal, 0 of" in result.stdout and "NOT EQUAL" not in result.stdout, text[-3000:]
    assert out.is_file()
    return result


@pytest.mark.slow
@pytest.mark.parametrize("fmt", QUICK_FORMATS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_format_on_our_checkpoints(checkpoints, backbone, fmt, tmp_path):
    export_command(str(checkpoints[backbone]), fmt, tmp_path / f"{backbone}{FORMATS[fmt]}")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_on_torchvisions_coco_model(torchvision_file, fmt, tmp_path):
    """No dataset recorded, none named: checked on the package's sample photos, and told so."""
    result = export_command(
        SPEC, fmt, tmp_path / f"{NAME}{FORMATS[fmt]}", f"hub.weights_path={torchvision_file}"
    )
    assert f"{SPEC} records no dataset: using the {CHECKED} sample photos" in result.stdout
