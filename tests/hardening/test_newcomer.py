"""A newcomer's rough edges (issue 32): help that lists only what a command uses, a misspelt
key refused before torch loads, and pycocotools' −1 ("no ground truth of this size") kept, not
turned into 0."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import pytest
import torch
from pycocotools.coco import COCO

from detect.data.categories import CategoryMap
from detect.evaluation.coco_eval import METRICS, CocoEvaluator
from detect.evaluation.report import metric_text

UNUSED = ("optimizer:", "trainer:", "debug:", "callbacks:", "logger:", "experiment:")


@pytest.mark.parametrize("command", ["eval", "predict", "eval-tracking", "export", "bench"])
def test_help_lists_only_the_groups_a_command_composes(detect_cli, command):
    """Before: every group of the package (optimizer, trainer, debug …) under each command."""
    code, text = detect_cli(command, "--help")
    assert code == 0 and "== Config ==" in text, text[-1500:]
    groups = text.split("== Config ==")[0]
    assert not [name for name in UNUSED if name in groups], groups
    if command == "eval":  # eval composes data (null: the checkpoint's), hub and paths
        assert "data: coco, coco_subset" in groups and "hub: default" in groups


def test_train_help_still_lists_its_groups(detect_cli):
    code, text = detect_cli("train", "--help")
    groups = text.split("== Config ==")[0]
    assert code == 0 and "optimizer: adamw, sgd" in groups and "trainer:" in groups


MISSPELT = """
import sys
from detect.cli.main import main
try:
    main(["eval", "ckpt=last.ckpt", *sys.argv[1:]])
except SystemExit as error:
    print("exit", error.code, "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    ("override", "message"),
    [("nosuchkey=1", "unknown key 'nosuchkey'"), ("data=cocoo", "data/cocoo")],
)
def test_a_misspelt_key_is_refused_before_torch_loads(tmp_path, override, message):
    """Before: the command's function, and torch with it, were imported first (5–10 s)."""
    result = subprocess.run(
        [sys.executable, "-c", MISSPELT, override],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.stdout.strip() == "exit 1 False", result.stdout + result.stderr[-2000:]
    assert message in result.stderr


@pytest.fixture
def one_small_box() -> COCO:
    """One image with one small box: no medium or large ground truth (pycocotools: −1)."""
    truth = {
        "images": [{"id": 1, "width": 100, "height": 100, "file_name": "a.jpg"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 20, 20],
                "area": 400,
                "iscrowd": 0,
            }
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = truth
        coco.createIndex()
    return coco


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_no_detections_keep_minus_one_where_an_area_has_no_ground_truth(
    one_small_box, tmp_path, backend
):
    """Before: a run with no detections wrote APl 0.0 (and every other metric 0.0)."""
    if backend == "faster_coco_eval":
        pytest.importorskip("faster_coco_eval")
    nothing = {
        "boxes": torch.zeros(0, 4),
        "scores": torch.zeros(0),
        "labels": torch.zeros(0, dtype=torch.long),
    }
    found = {
        "boxes": torch.tensor([[10.0, 10, 30, 30]]),
        "scores": torch.tensor([0.9]),
        "labels": torch.tensor([1]),
    }
    scored = {}
    for name, detections in (("nothing", nothing), ("found", found)):
        evaluator = CocoEvaluator(one_small_box, CategoryMap((1,), ("a",)), backend)
        evaluator.update([1], [detections])
        scored[name], _ = evaluator.compute()
    for name in ("APm", "APl", "ARm", "ARl"):  # no such ground truth: −1 both ways
        assert scored["nothing"][name] == scored["found"][name] == -1.0, name
    assert scored["nothing"]["AP"] == 0.0 and scored["found"]["AP"] == pytest.approx(1.0)
    evaluator.write(tmp_path / "d.json", tmp_path / "metrics.json", scored["nothing"])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["APl"] == -1.0 and set(METRICS) <= set(written)
    assert metric_text(-1.0).startswith("−1 (no ground truth") and metric_text(0.5) == "0.5000"
