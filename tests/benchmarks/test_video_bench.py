"""The video benchmark end to end on a short run: both tables, figures that make sense."""

from __future__ import annotations

from support.configs import compose_config

from detect.benchmarks.video import run_bench_video


def test_bench_video_reports_fps_ratio_and_memory(short_clip, tiny_ckpt, capsys):
    overrides = [f"ckpt={tiny_ckpt}", f"clip={short_clip}", "frames=24", "repeats=1"]
    overrides += ["soak_frames=40", "sample_s=0.05", "threads=1"]
    figures = run_bench_video(compose_config("bench_video", overrides))
    out = capsys.readouterr().out
    assert "| ratio pipeline ÷ model only |" in out and "| soak: 40 frames" in out
    assert figures["model_fps"] > 0 and figures["pipeline_fps"] > 0
    assert figures["ratio"] == figures["pipeline_fps"] / figures["model_fps"]
    # (the peak is the whole process's, here pytest's: not compared with the bound)
    assert figures["peak_mib"] > 0 and figures["bound_mib"] > 0
