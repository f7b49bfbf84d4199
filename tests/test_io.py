"""Atomic writes: a reader, or a run killed mid-save, never sees half a file."""

from __future__ import annotations

import pytest
import torch

from detect.io import atomic_write
from detect.training.checkpoint_io import AtomicCheckpointIO


def test_bytes_text_and_writer_functions_land_whole(tmp_path):
    target = tmp_path / "deep" / "file.bin"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(target, "text ✓")
    assert target.read_text(encoding="utf-8") == "text ✓"
    atomic_write(target, lambda file: file.write(b"via a writer"))
    assert target.read_bytes() == b"via a writer"
    assert [p.name for p in target.parent.iterdir()] == ["file.bin"]  # no staging file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "model.onnx"
    atomic_write(target, b"old")

    def fails(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fails)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_an_interrupted_checkpoint_save_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)

    def interrupted(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"global_step": 1}
    io.save_checkpoint({"global_step": 3}, path)
    assert torch.load(path, weights_only=True) == {"global_step": 3}
