"""The video benchmark end to end on a short run: both tables, figures that make sense."""

from __future__ import annotations

from omegaconf import OmegaConf

from detect.benchmarks.video import run_bench_video


def test_bench_video_reports_fps_ratio_and_memory(short_clip, tiny_ckpt, capsys):
    cfg = OmegaConf.create(
        {
            "ckpt": str(tiny_ckpt),
            "clip": str(short_clip),
            "frames": 24,
            "repeats": 1,
            "soak_frames": 40,
            "sample_s": 0.05,
            "slack_mib": 64,
            "batch_size": 4,
            "queue_size": 8,
            "score_thresh": 0.3,
            "backend": "pytorch",
            "device": "cpu",
            "threads": 1,
        }
    )
    figures = run_bench_video(cfg)
    out = capsys.readouterr().out
    assert "| ratio pipeline ÷ model only |" in out and "| soak: 40 frames" in out
    assert figures["model_fps"] > 0 and figures["pipeline_fps"] > 0
    assert figures["ratio"] == figures["pipeline_fps"] / figures["model_fps"]
    # (the peak is the whole process's, here pytest's: not compared with the bound)
    assert figures["peak_mib"] > 0 and figures["bound_mib"] > 0
