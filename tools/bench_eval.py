"""COCO evaluation time, pycocotools vs faster-coco-eval: python tools/bench_eval.py --help.
A peer benchmark: it runs from a checkout (benchmarks/)."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the checkout's
from benchmarks.coco_eval import run_bench_eval


@hydra.main(config_path="../benchmarks/conf", config_name="bench_eval", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_eval(cfg)


if __name__ == "__main__":
    main()
