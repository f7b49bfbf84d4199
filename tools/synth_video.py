"""The synthetic moving-shapes video and its ground truth: python tools/synth_video.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.synth_video import run_synth_video


@hydra.main(config_path="../conf", config_name="synth_video", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_synth_video(cfg)


if __name__ == "__main__":
    main()
