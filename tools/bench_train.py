"""Training throughput, our Lightning loop vs a bare loop over torchvision's SSDLite:
python tools/bench_train.py --help."""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from detect.training.throughput import compare, format_comparison


@hydra.main(config_path="../conf", config_name="bench_train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    comparison = compare(
        OmegaConf.to_container(cfg.model, resolve=True),
        batch_size=cfg.batch_size,
        threads=cfg.threads,
        warmup=cfg.warmup,
        steps=cfg.steps,
        repeats=cfg.repeats,
        boxes_per_image=cfg.boxes_per_image,
        seed=cfg.seed,
        **cfg.optimizer,
    )
    print(
        f"batch {cfg.batch_size}, {cfg.size}×{cfg.size}, {cfg.threads} threads, fp32 CPU, "
        f"{cfg.repeats} alternating rounds of {cfg.warmup} warm-up + {cfg.steps} timed steps; "
        "images/s = batch ÷ median step\n"
    )
    print(format_comparison(comparison, cfg.min_ratio))
    comparison.to_json(Path(cfg.output))
    print(f"\nwritten to {cfg.output}")


if __name__ == "__main__":
    main()
