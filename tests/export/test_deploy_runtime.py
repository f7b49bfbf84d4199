"""Must-show 4: the exported file, loaded in a fresh process with onnxruntime + numpy only (torch
never imported), gives PyTorch's detections; its metadata names the categories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.models import conditioned_model

from detect.data.categories import CategoryMap
from detect.errors import ExportError
from detect.export.onnx import export_bytes, match_detections, metadata_for, to_numpy, write_model
from detect.export.runtime import OnnxDetector
from detect.models.predictor import Predictor

PROJECT = Path(__file__).resolve().parents[2]
IDS = tuple(range(1, 91))  # torchvision's COCO head: 91 outputs, 0 = background
CATEGORIES = CategoryMap(IDS, tuple(f"category {i}" for i in IDS))

DEPLOY_SCRIPT = """
import json, sys
import numpy as np
from detect.export.runtime import OnnxDetector

detector = OnnxDetector(sys.argv[1], threads=1)
images = [np.load(path) for path in sys.argv[3:]]
results = detector(images)
json.dump(
    {
        "torch_imported": "torch" in sys.modules,
        "results": [{k: v.tolist() for k, v in r.items()} for r in results],
    },
    open(sys.argv[2], "w"),
)
"""


@pytest.mark.slow
def test_fresh_process_with_numpy_and_onnxruntime_only(coco_images, tmp_path):
    model = conditioned_model("v3_large", coco_images)
    model_config = {"size": 320, "backbone": {"name": "v3_large", "width_mult": 1.0}}
    metadata = metadata_for(model, CATEGORIES, model_config, {"data": {"root": "x"}})
    path = write_model(export_bytes(model, metadata), tmp_path / "model.onnx")
    arrays = []
    for index, image in enumerate(coco_images[:3]):
        arrays.append(tmp_path / f"image{index}.npy")
        np.save(arrays[-1], image.numpy())
    output = tmp_path / "detections.json"
    subprocess.run(
        [sys.executable, "-c", DEPLOY_SCRIPT, str(path), str(output), *map(str, arrays)],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    answer = json.loads(output.read_text())
    assert answer["torch_imported"] is False
    reference = Predictor(model)(coco_images[:3])
    for result, expected in zip(answer["results"], reference, strict=True):
        ours = {key: np.asarray(result[key]) for key in ("boxes", "scores", "labels")}
        assert len(ours["scores"]) == len(expected["scores"]) > 0
        assert match_detections(ours, to_numpy(expected))[0] == 0
        names = [CATEGORIES.names[label - 1] for label in result["labels"]]
        assert result["names"] == names
        assert result["coco_ids"] == [CATEGORIES.coco_ids[label - 1] for label in result["labels"]]
    loaded = OnnxDetector(path)
    assert loaded.metadata.names == CATEGORIES.names and loaded.metadata.size == 320
    assert loaded.metadata.model_config == model_config and loaded.metadata.precision == "fp32"


@pytest.mark.slow
def test_categories_must_fit_the_head(coco_images):
    model = conditioned_model("v3_small", coco_images, size=96, num_classes=4)
    with pytest.raises(ValueError, match=r"4 classes .* 90 categories"):
        metadata_for(model, CATEGORIES, {}, {})


def test_missing_or_foreign_files_are_named(tmp_path):
    with pytest.raises(ExportError, match=r"exported model not found: .*nothing\.onnx"):
        OnnxDetector(tmp_path / "nothing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ExportError, match=r"junk\.onnx is not a loadable ONNX model"):
        OnnxDetector(junk)
