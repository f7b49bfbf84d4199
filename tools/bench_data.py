"""Data-loading throughput, ours vs torchvision's transforms: python tools/bench_data.py --help."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.data.throughput import compare, format_throughput


@hydra.main(config_path="../conf", config_name="bench_data", version_base="1.3")
def main(cfg: DictConfig) -> None:
    split = cfg.data[cfg.split]
    results = compare(
        Path(split.image_dir),
        Path(split.annotation_file),
        cfg.size,
        cfg.workers,
        cfg.batch_size,
        cfg.epochs,
    )
    print(f"{cfg.split} split of {cfg.data.root}, {cfg.workers} workers, resize to {cfg.size}\n")
    print(format_throughput(results))


if __name__ == "__main__":
    main()
