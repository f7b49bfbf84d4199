"""Bad input gets one line naming the thing and the fix, exit code ≠ 0, no traceback — for every
tool in tools/, and for the config values and datasets users get wrong."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
from pathlib import Path

import pytest
from support.paths import TOOLS
from support.tools import assert_one_line_error, output, run_tool

BAD_INPUT = {  # tool: (overrides, phrases the error line must hold)
    "bench": (["images_dir=/nonexistent/images"], ["image folder not found: /nonexistent"]),
    "bench_data": (["data.root=/nonexistent/coco"], ["image folder not found: /nonexistent"]),
    "bench_load": (["--ckpt=/nonexistent/last.ckpt"], ["checkpoint not found: /nonexistent"]),
    "bench_eval": (["images=0"], ["images and repeats must be ≥ 1, got 0"]),
    "bench_train": (["warmup=0"], ["must be at least 1"]),
    "bench_video": (["ckpt=/nonexistent/last.ckpt"], ["checkpoint not found"]),
    "check_dataset": (["data=coco", "data.root=/nonexistent"], ["image folder not found"]),
    "cost": (["backbones=[v9]"], ["unknown backbone 'v9'", "v3_large"]),
    "bench_tracking": (["ckpt=/nonexistent/last.ckpt"], ["checkpoint not found"]),
    "eval": (["ckpt=/nonexistent/last.ckpt"], ["checkpoint not found: /nonexistent"]),
    "eval_tracking": (
        ["detections=/nonexistent/detections.jsonl", "gt=/nonexistent/gt.txt"],
        ["ground truth not found: /nonexistent/gt.txt"],
    ),
    "export": (["ckpt=/nonexistent/last.ckpt"], ["checkpoint not found: /nonexistent"]),
    "gpu_check": (["backends=[tensorrt]"], ["unknown backend(s) ['tensorrt']"]),
    "import_weights": (["weights=torchvision:nonexistent"], ["unknown torchvision detector"]),
    "pareto": (["runs=[/nonexistent/run]"], ["no checkpoint or run directory at /nonexistent"]),
    "predict": (["ckpt={ckpt}", "source=/nonexistent.mp4"], ["cannot open video source"]),
    "prepare_coco": (["parts=[val2018]"], ["unknown COCO parts ['val2018']", "val2017"]),
    "summary": (["backbone.width_mult=0"], ["width_mult"]),
    "synth_video": (["video.width=8"], ["width and height ≥ 32"]),
    "train": (["backbone.width_mult=0"], ["backbone.width_mult=0", "must be > 0"]),
}


def test_every_tool_has_a_bad_input_case():
    assert sorted(path.stem for path in TOOLS.glob("*.py")) == sorted(BAD_INPUT)


@pytest.mark.slow
@pytest.mark.parametrize("tool", sorted(BAD_INPUT))
def test_each_tool_says_what_is_wrong_in_one_line(tool, tiny_ckpt):
    overrides, phrases = BAD_INPUT[tool]
    result = run_tool(tool, *(o.format(ckpt=tiny_ckpt) for o in overrides), timeout=180)
    assert_one_line_error(result, *phrases)


TRAIN_CONFIG_ERRORS = {
    "backbone.width_mult=-1": "backbone.width_mult=-1",
    "model.size=16": "model.size=16: the input must be at least v3_small's total stride 32",
    "loader.batch_size=0": "loader.batch_size=0: must be an integer ≥ 1",
    "backbone=v1 +backbone.reduced_tail=true": "backbone 'v1' has no option reduced_tail",
}


@pytest.mark.slow
@pytest.mark.parametrize("override", list(TRAIN_CONFIG_ERRORS))
def test_train_refuses_values_that_cannot_work_before_any_data(override, tmp_path):
    # the data root does not exist: the config error must come first
    result = run_tool("train", *override.split(), "data=coco", f"data.root={tmp_path}/none")
    assert_one_line_error(result, TRAIN_CONFIG_ERRORS[override])


@pytest.mark.slow
def test_a_refused_resume_is_refused_before_the_data_is_read(tiny_ckpt, tmp_path):
    result = run_tool(
        "train", f"ckpt_path={tiny_ckpt}", "loader.batch_size=16", "data=coco", "data.root=/no"
    )
    assert_one_line_error(result, "trained with loader.batch_size=32, this config has 16")


@pytest.mark.slow
def test_dataset_errors_raised_while_building_reach_the_user_unwrapped(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "train2017").mkdir()
    (tmp_path / "annotations" / "instances_train2017.json").write_text('{"images": [{"id"')
    result = run_tool("train", "data=coco", f"data.root={tmp_path}")
    assert_one_line_error(result, "cannot read COCO annotations", "instances_train2017.json")
    result = run_tool("train", "data=coco", f"data.root={tmp_path / 'elsewhere'}")
    assert_one_line_error(result, "image folder not found", "elsewhere")


@pytest.fixture
def damaged_copy(coco_subset: Path, tmp_path: Path) -> Path:
    """A COCO-format copy of 6 real val images (for train and val) in which one image is
    empty, one unreadable by its permissions and one a directory named like an image."""
    root = tmp_path / "damaged"
    (root / "annotations").mkdir(parents=True)
    raw = json.loads((coco_subset / "annotations" / "instances_val2017.json").read_text())
    images = raw["images"][:6]
    ids = {info["id"] for info in images}
    for split in ("train2017", "val2017"):
        (root / split).mkdir()
        for info in images[3:]:
            shutil.copy(coco_subset / "val2017" / info["file_name"], root / split)
        empty, locked, folder = (root / split / info["file_name"] for info in images[:3])
        empty.write_bytes(b"")
        shutil.copy(coco_subset / "val2017" / locked.name, locked)
        locked.chmod(0)
        folder.mkdir()
        subset = {
            **raw,
            "images": images,
            "annotations": [a for a in raw["annotations"] if a["image_id"] in ids],
        }
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(subset))
    return root


def drop_file_access_override() -> None:
    """In the child before it runs the tool: give up root's power to read any file
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, from the capability bounding set), so file
    permissions apply to it as to any user. A no-op for other users."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # linux/capability.h
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


PR_CAPBSET_DROP = 24


@pytest.mark.slow
def test_damaged_files_are_counted_named_and_skipped_by_every_tool(damaged_copy, tmp_path):
    names = sorted(p.name for p in (damaged_copy / "val2017").iterdir())
    as_a_user = {"preexec_fn": drop_file_access_override}
    data = ["data=coco", f"data.root={damaged_copy}"]
    reports = tmp_path / "reports"
    result = run_tool("check_dataset", *data, f"report_dir={reports}", **as_a_user)
    assert result.returncode == 0, output(result)[-3000:]
    assert output(result).count("3 images skipped") == 2  # each split's summary, once
    report = json.loads((reports / "val.json").read_text())["skipped_images"]
    assert sorted(report.values()) == [
        "a directory, not an image file",
        "empty file (0 bytes)",
        "permission denied: the file cannot be read",
    ]
    assert set(report) < set(names)
    runs = tmp_path / "runs"
    train = run_tool(
        "train",
        *data,
        "debug=tiny",
        "loader.batch_size=2",
        f"runs_dir={runs}",
        "run_name=damaged",
        **as_a_user,
    )
    assert train.returncode == 0, output(train)[-3000:]
    assert "permission denied" in output(train) and "done: AP" in output(train)
    evaluated = run_tool(
        "eval",
        f"ckpt={runs / 'damaged' / 'checkpoints' / 'last.ckpt'}",
        f"output_dir={runs / 'eval'}",
        **as_a_user,
    )
    assert evaluated.returncode == 0, output(evaluated)[-3000:]
    assert "3 images scored (3 skipped" in evaluated.stdout
