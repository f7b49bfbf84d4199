"""Video pipeline benchmark (overlap and memory): python tools/bench_video.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.video import run_bench_video
from detect.cli import friendly_errors


@hydra.main(config_path="pkg://detect.conf", config_name="bench_video", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_video(cfg)


if __name__ == "__main__":
    main()
