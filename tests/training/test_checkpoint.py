"""Standalone checkpoints: clear errors for files that are not ours, atomic writes."""

from __future__ import annotations

import pytest
import torch

from detect.training.checkpoint import AtomicCheckpointIO, CheckpointError, load_checkpoint


def test_files_that_are_not_detect_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*missing\.ckpt"):
        load_checkpoint(tmp_path / "missing.ckpt")
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.ckpt is not a PyTorch checkpoint"):
        load_checkpoint(text)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt is not a detect checkpoint"):
        load_checkpoint(foreign)


def test_an_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 1}, path)

    def interrupted(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"global_step": 1}
    io.save_checkpoint({"global_step": 3}, path)
    assert torch.load(path, weights_only=False) == {"global_step": 3}
