"""Standalone checkpoints: clear errors for files that are not ours, nothing unsafe suggested."""

from __future__ import annotations

import os

import pytest
import torch

from detect.errors import CheckpointError
from detect.weights.checkpoint import load_checkpoint, read_checkpoint


def test_files_that_are_not_detect_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match=r"checkpoint not found: .*missing\.ckpt"):
        load_checkpoint(tmp_path / "missing.ckpt")
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.ckpt is not a detect checkpoint"):
        load_checkpoint(text)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError, match=r"foreign\.pt is not a detect checkpoint"):
        load_checkpoint(foreign)


def test_random_bytes_get_no_advice_to_load_unsafely(tmp_path):
    noise = tmp_path / "noise.ckpt"
    noise.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(noise)
    message = str(caught.value)
    assert "noise.ckpt" in message and "weights_only" not in message
    assert "will likely succeed" not in message


def test_a_pickled_object_is_refused_without_running_it(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "detect": Payload()}, evil)
    with pytest.raises(CheckpointError, match="holds objects other than tensors"):
        read_checkpoint(evil)
    assert not (tmp_path / "ran").exists()


def test_a_checkpoint_of_another_format_version_is_refused(tiny_ckpt, tmp_path):
    raw = torch.load(tiny_ckpt, weights_only=True)
    raw["detect"]["version"] = 1
    old = tmp_path / "old.ckpt"
    torch.save(raw, old)
    with pytest.raises(CheckpointError, match="format 1; this version reads format 2"):
        load_checkpoint(old)
    assert load_checkpoint(tiny_ckpt).categories.names == ("circle", "square", "triangle")
