"""tools/synth_video.py: the synthetic moving-shapes video with MOTChallenge ground truth."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from detect.data.moving_shapes import SyntheticVideo, VideoConfig, write_video


def run_synth_video(cfg: DictConfig) -> SyntheticVideo:
    """Write the video of ``cfg.seed`` into ``cfg.output_dir`` and say what was written."""
    config = VideoConfig(**OmegaConf.to_container(cfg.video, resolve=True))
    files = write_video(cfg.output_dir, config, cfg.seed)
    print(f"written: {files.video}, {files.gt}, {files.counts}")
    return files
