"""The resume policy on plain arguments: which checkpoint a run continues, and which it refuses."""

from __future__ import annotations

import pytest
import torch

from detect.errors import ConfigError
from detect.training.resume import check_resume, resume_checkpoint
from detect.weights.checkpoint import CHECKPOINT_KEY, CHECKPOINT_VERSION


def test_resume_without_a_checkpoint_names_the_fix(tmp_path):
    old = tmp_path / "2026-01-01_00-00-00" / "checkpoints"
    old.mkdir(parents=True)
    (old / "last.ckpt").write_bytes(b"")
    with pytest.raises(ConfigError, match="run_name=2026-01-01_00-00-00"):
        resume_checkpoint(tmp_path / "new", tmp_path, resume=True)


def test_resume_auto_starts_a_new_run_and_continues_one_with_a_last_checkpoint(tmp_path):
    run_dir = tmp_path / "r"
    assert resume_checkpoint(run_dir, tmp_path, resume="auto") is None
    last = run_dir / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    assert resume_checkpoint(run_dir, tmp_path, resume="auto") == str(last)
    assert resume_checkpoint(run_dir, tmp_path, resume=True) == str(last)
    assert resume_checkpoint(run_dir, tmp_path, resume=False) is None
    with pytest.raises(ConfigError, match=r"resume=maybe: choose true .* false .* or auto"):
        resume_checkpoint(run_dir, tmp_path, resume="maybe")


def test_a_named_checkpoint_wins_over_the_policy(tmp_path):
    named = tmp_path / "elsewhere.ckpt"
    assert resume_checkpoint(tmp_path / "r", tmp_path, "maybe", ckpt_path=named) == str(named)


def saved_run(path, batch_size: int, max_epochs: int, total_steps: int, global_step: int):
    """A checkpoint file holding only what the resume checks read."""
    meta = {
        "version": CHECKPOINT_VERSION,
        "run_config": {"loader": {"batch_size": batch_size}, "trainer": {"max_epochs": max_epochs}},
        "total_steps": total_steps,
    }
    torch.save(
        {CHECKPOINT_KEY: meta, "state_dict": {}, "epoch": 2, "global_step": global_step}, path
    )
    return path


def test_check_resume_refuses_another_batch_size_or_too_few_epochs(tmp_path):
    path = saved_run(tmp_path / "last.ckpt", 8, 4, total_steps=12, global_step=6)
    assert check_resume(path, 8, 4)["global_step"] == 6
    assert check_resume(path, 8, 8)["global_step"] == 6  # more epochs extend the run
    assert check_resume(path, 8, None)["global_step"] == 6  # a step-bound run: not checked
    with pytest.raises(ConfigError, match=r"loader\.batch_size=8, this config has 4"):
        check_resume(path, 4, 4)
    with pytest.raises(ConfigError, match=r"max_epochs=1 plans only 3 steps.* at least 2 epochs"):
        check_resume(path, 8, 1)
