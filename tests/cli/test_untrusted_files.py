"""Files from strangers never choose code: checkpoints and .onnx files whose stored configs name
a callable are refused by name, through every tool that reads them, and nothing runs (a
sentinel file the payloads would create stays absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support.tools import assert_one_line_error, run_tool

from detect.errors import CheckpointError, ExportError
from detect.export.metadata import ExportMetadata
from detect.export.onnx import export_bytes, metadata_for, write_model
from detect.export.runtime import OnnxDetector
from detect.weights.checkpoint import load_checkpoint, read_checkpoint


def payloads(sentinel: Path) -> dict[str, tuple[tuple[str, ...], object]]:
    """Where a payload hides (a path into the checkpoint's ``detect`` entry) and what it is:
    each would create ``sentinel`` if anything called it."""
    return {
        "shutil.copyfile": (
            ("run_config", "data", "val"),
            {"_target_": "shutil.copyfile", "_args_": [__file__, str(sentinel)]},
        ),
        "builtins.open": (
            ("run_config", "data"),
            {"format": "coco", "_target_": "builtins.open", "file": str(sentinel), "mode": "w"},
        ),
        "numpy.savetxt": (
            ("model", "backbone"),
            {"_target_": "numpy.savetxt", "fname": str(sentinel), "X": [1.0]},
        ),
        "os.system": (
            ("run_config", "optimizer"),
            {"_target_": "os.system", "_args_": [f"touch {sentinel}"]},
        ),
        "subprocess.run": (
            ("run_config", "trainer"),
            {"_target_": "subprocess.run", "args": ["touch", str(sentinel)]},
        ),
        "a _target_ nested in a list": (
            ("run_config", "callbacks"),
            [{"keep": 1}, {"_target_": "os.system", "_args_": [f"touch {sentinel}"]}],
        ),
    }


def crafted(source: Path, target: Path, where: tuple[str, ...], payload: object) -> Path:
    """A copy of a real checkpoint with ``payload`` planted at ``where``."""
    raw = torch.load(source, weights_only=True)
    node = raw["detect"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = payload
    torch.save(raw, target)
    return target


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    return tmp_path / "sentinel"


@pytest.mark.parametrize("name", list(payloads(Path("x"))))
def test_every_payload_is_refused_by_name_when_read(name, tiny_ckpt, tmp_path, sentinel):
    where, payload = payloads(sentinel)[name]
    evil = crafted(tiny_ckpt, tmp_path / "evil.ckpt", where, payload)
    with pytest.raises(CheckpointError, match="names code to call") as caught:
        load_checkpoint(evil)
    assert "evil.ckpt" in str(caught.value) and ".".join(where) in str(caught.value)
    assert not sentinel.exists()


TOOLS = {  # a tool and how it takes the file ({ckpt}): the payload it meets
    ("eval", "ckpt={ckpt}"): "shutil.copyfile",
    ("export", "ckpt={ckpt}"): "builtins.open",
    ("predict", "ckpt={ckpt} source={image} output_dir={out}"): "numpy.savetxt",
    ("bench", "ckpt={ckpt} runs=1 warmup=0 output={out}/b.json"): "os.system",
    ("train", "ckpt_path={ckpt} debug=tiny runs_dir={out}"): "a _target_ nested in a list",
    ("train", "init_from={ckpt} debug=tiny runs_dir={out}"): "subprocess.run",
}


@pytest.mark.slow
@pytest.mark.parametrize(("tool", "overrides"), list(TOOLS), ids=[" ".join(t) for t in TOOLS])
def test_each_tool_refuses_a_crafted_checkpoint_and_runs_nothing(
    tool, overrides, tiny_ckpt, tmp_path, sentinel, coco_val_dir
):
    name = TOOLS[tool, overrides]
    where, payload = payloads(sentinel)[name]
    evil = crafted(tiny_ckpt, tmp_path / "evil.ckpt", where, payload)
    image = sorted(coco_val_dir.glob("*.jpg"))[0]
    out = tmp_path / "out"
    result = run_tool(tool, *overrides.format(ckpt=evil, image=image, out=out).split())
    assert_one_line_error(result, "evil.ckpt", ".".join(where), "names code to call")
    assert not sentinel.exists()
    assert not (out / "detections.jsonl").exists() and not (tmp_path / "export").exists()


@pytest.fixture
def crafted_onnx(tiny_ckpt: Path, tmp_path: Path, sentinel: Path) -> Path:
    """A real exported model whose metadata's run config names ``numpy.savetxt``."""
    checkpoint = load_checkpoint(tiny_ckpt)
    metadata = metadata_for(checkpoint.model, checkpoint.categories, checkpoint.model_config, {})
    run_config = {"data": {"val": {"_target_": "numpy.savetxt", "fname": str(sentinel)}}}
    model = export_bytes(
        checkpoint.model,
        ExportMetadata(
            metadata.coco_ids,
            metadata.names,
            metadata.size,
            metadata.model_config,
            run_config,
            "fp32",
        ),
    )
    return write_model(model, tmp_path / "evil.onnx")


@pytest.mark.slow
def test_a_crafted_onnx_is_refused_when_opened_and_by_the_tools(
    crafted_onnx, sentinel, coco_val_dir, tmp_path
):
    with pytest.raises(ExportError, match=r"detect\.run_config\.data\.val\._target_"):
        OnnxDetector(crafted_onnx)
    image = sorted(coco_val_dir.glob("*.jpg"))[0]
    result = run_tool("eval", f"ckpt={crafted_onnx}", "backend=onnxruntime")
    assert_one_line_error(result, "evil.onnx", "names code to call")
    result = run_tool(
        "predict",
        f"ckpt={crafted_onnx}",
        "backend=onnxruntime",
        f"source={image}",
        f"output_dir={tmp_path / 'out'}",
    )
    assert_one_line_error(result, "evil.onnx", "names code to call")
    assert not sentinel.exists()


def test_the_project_own_files_hold_no_call_keys(tiny_ckpt):
    raw = read_checkpoint(tiny_ckpt)  # passes the same check
    assert "_target_" not in repr(raw["detect"])
    assert raw["detect"]["run_config"]["optimizer"]["lr"] > 0  # the values are kept
