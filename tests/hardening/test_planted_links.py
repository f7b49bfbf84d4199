"""Issue 38, Security 1: a link planted where we write (the old fixed staging name
``.<name>.partial``, or the output's own name) never redirects the write: its target, the
victim, is left byte for byte as it was, and the output is a plain file of ours."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from detect.io import atomic_write, fresh_file
from detect.training.checkpoint_io import AtomicCheckpointIO

VICTIM_BYTES = b"the victim's own content\n"


def victim(tmp_path: Path) -> Path:
    """A file elsewhere (another user's, in the story) that a planted link points at."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    path = folder / "victim.txt"
    path.write_bytes(VICTIM_BYTES)
    return path


def plant(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def assert_untouched(target: Path, output: Path) -> None:
    assert target.read_bytes() == VICTIM_BYTES
    assert output.is_file() and not output.is_symlink()


@pytest.mark.parametrize("where", ["staging", "output"])
def test_atomic_write_never_writes_through_a_planted_link(tmp_path, where):
    target, output = victim(tmp_path), tmp_path / "out" / "model.onnx"
    link = output.with_name(f".{output.name}.partial") if where == "staging" else output
    plant(link, target)
    atomic_write(output, b"ours")
    assert_untouched(target, output)
    assert output.read_bytes() == b"ours"
    leftovers = {p.name for p in output.parent.iterdir()} - {output.name, link.name}
    assert not leftovers  # no staging file left behind


def test_staging_files_are_private_names_with_an_ordinary_mode(tmp_path):
    output = tmp_path / "file.bin"
    atomic_write(output, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert output.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_stream_file_replaces_a_planted_link(tmp_path):
    target, output = victim(tmp_path), tmp_path / "detections.jsonl"
    plant(output, target)
    with fresh_file(output) as file:
        file.write(b"{}\n")
    assert_untouched(target, output)


@pytest.mark.parametrize("where", ["staging", "output"])
def test_checkpoint_saving_never_writes_through_a_planted_link(tmp_path, where):
    target, output = victim(tmp_path), tmp_path / "checkpoints" / "last.ckpt"
    plant(output.with_name(".last.ckpt.partial") if where == "staging" else output, target)
    AtomicCheckpointIO().save_checkpoint({"global_step": 7}, output)
    assert_untouched(target, output)
    import torch

    assert torch.load(output, weights_only=True) == {"global_step": 7}


@pytest.mark.parametrize("fmt", ["onnx", "ncnn"])
@pytest.mark.parametrize("where", ["staging", "output"])
def test_export_never_writes_through_a_planted_link(tmp_path, tiny_ckpt, detect_cli, fmt, where):
    target = victim(tmp_path)
    output = tmp_path / "export" / ("model.onnx" if fmt == "onnx" else "model.param")
    names = [output.name] + (["model.bin", "model.json"] if fmt == "ncnn" else [])
    for name in names:
        link = output.with_name(f".{name}.partial" if where == "staging" else name)
        plant(link, target)
    code, text = detect_cli(
        "export", f"ckpt={tiny_ckpt}", f"format={fmt}", f"output={output}", "check.count=0"
    )
    assert code == 0, text[-3000:]
    for name in names:
        assert_untouched(target, output.with_name(name))


def test_predict_outputs_never_write_through_planted_links(tmp_path, tiny_ckpt, detect_cli):
    import cv2

    target = victim(tmp_path)
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.jpg"), np.full((64, 80, 3), 90, np.uint8))
    out = tmp_path / "predicted"
    links = [out / "detections.jsonl", out / "images" / "a.jpg"]
    for link in links:
        plant(link, target)
    code, text = detect_cli("predict", f"ckpt={tiny_ckpt}", f"source={images}", f"output_dir={out}")
    assert code == 0, text[-3000:]
    for path in links:
        assert_untouched(target, path)
    assert (out / "detections.jsonl").read_text().count("\n") == 1


def test_a_video_output_replaces_a_planted_link(tmp_path):
    from detect.inference.outputs import VideoOutput

    target, output = victim(tmp_path), tmp_path / "clip.mp4"
    plant(output, target)
    video = VideoOutput(output, 10.0)
    for _ in range(3):
        video.write(np.zeros((48, 64, 3), np.uint8))
    video.close()
    assert_untouched(target, output)
    assert output.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
