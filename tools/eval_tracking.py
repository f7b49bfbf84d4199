"""Score tracks against MOTChallenge ground truth: python tools/eval_tracking.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.eval_tracking import run_eval_tracking


@hydra.main(config_path="../conf", config_name="eval_tracking", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_eval_tracking(cfg)


if __name__ == "__main__":
    main()
