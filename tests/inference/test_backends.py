"""backend=auto takes the fastest backend that fits, and checks it against PyTorch first."""

from __future__ import annotations

import logging

import detect.inference.backends as backends
from detect.inference.backends import load_detector


def test_auto_runs_a_checkpoint_on_onnxruntime_when_it_agrees(tiny_ckpt):
    loaded = load_detector(tiny_ckpt)  # the default: auto
    assert loaded.backend == "onnxruntime" and "auto: onnxruntime" in loaded.description
    assert load_detector(tiny_ckpt, "pytorch").backend == "pytorch"


def test_auto_falls_back_to_pytorch_when_the_export_disagrees(
    tiny_ckpt, monkeypatch, caplog, empty_export_cache
):
    monkeypatch.setattr(backends, "agrees", lambda runtime, checkpoint: False)
    with caplog.at_level(logging.WARNING):
        loaded = load_detector(tiny_ckpt)
    assert loaded.backend == "pytorch" and "disagrees with PyTorch" in caplog.text
