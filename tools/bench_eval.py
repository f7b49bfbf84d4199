"""COCO evaluation time, pycocotools vs faster-coco-eval: python tools/bench_eval.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.coco_eval import run_bench_eval
from detect.cli import friendly_errors


@hydra.main(config_path="pkg://detect.conf", config_name="bench_eval", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_eval(cfg)


if __name__ == "__main__":
    main()
